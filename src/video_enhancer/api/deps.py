"""FastAPI dependencies: `SessionDep`, `SettingsDep`, `StorageDep`, `CallerId`, `CurrentUser`, `AdminUser`."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPBearer
from sqlalchemy.orm import Session

from video_enhancer.api.sessions import RequestSessions
from video_enhancer.auth.tokens import decode_access_token
from video_enhancer.config import Settings
from video_enhancer.errors import InvalidToken, NotFound, Unauthorized
from video_enhancer.logging import bind_user_id
from video_enhancer.models import User
from video_enhancer.storage.base import Storage
from video_enhancer.users.admin import has_admin_rights

# Dependencies that do no I/O are `async def`: FastAPI runs a plain `def` dependency in the thread
# pool, a hop that costs more than the dependency itself.


async def get_settings_dep(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


async def get_session(request: Request) -> AsyncIterator[Session]:
    """One request = one transaction: commit when the endpoint returns, roll back on error (at most
    the pool's size of requests at once: `api.sessions`)."""
    sessions: RequestSessions = request.app.state.request_sessions
    async with sessions.unit_of_work() as session:
        yield session


async def get_storage(request: Request) -> Storage:
    storage: Storage = request.app.state.storage
    return storage


SettingsDep = Annotated[Settings, Depends(get_settings_dep)]
# scope="function": the commit happens before the response is sent, so a failed commit is a 500
# and never a success the database does not hold.
SessionDep = Annotated[Session, Depends(get_session, scope="function")]
StorageDep = Annotated[Storage, Depends(get_storage)]


class CallerToken(HTTPBearer):
    """The user id of a valid access token: the bearer scheme (documented in OpenAPI as
    `HTTPBearer`) and the token's verification in one dependency, the one every poll solves.

    The token alone: whoever reads the account checks that it still exists (`get_current_user`,
    or a polled read in its own statement: `auth.tokens.check_caller_row`).
    """

    async def __call__(self, request: Request) -> uuid.UUID:  # type: ignore[override]
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token:
            raise Unauthorized()
        settings: Settings = request.app.state.settings
        return decode_access_token(token, settings)


CallerId = Annotated[
    uuid.UUID, Depends(CallerToken(scheme_name="HTTPBearer", description="Access token from /auth/login"))
]


def get_current_user(session: SessionDep, user_id: CallerId) -> User:
    return account_of(session, user_id)


def account_of(session: Session, user_id: uuid.UUID) -> User:
    """The caller's account, for endpoints that read it in a unit of work of their own."""
    user = session.get(User, user_id)
    if user is None or user.deleted_at is not None:  # a deleted account's tokens die with it
        raise InvalidToken()
    bind_user_id(str(user.id))
    return user


def get_admin_user(user: Annotated[User, Depends(get_current_user)], settings: SettingsDep) -> User:
    if not has_admin_rights(user, settings):
        raise NotFound()  # admin routes do not reveal themselves to other users
    return user


CurrentUser = Annotated[User, Depends(get_current_user)]
AdminUser = Annotated[User, Depends(get_admin_user)]
