"""HTTP routes: /auth/register, /auth/login, /auth/refresh, /auth/logout.

The endpoints are plain `def`: FastAPI runs them in its thread pool, which keeps bcrypt off the
event loop.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from fastapi import APIRouter, Request, Response, status
from sqlalchemy.orm import Session

from video_enhancer.api.deps import SessionDep, SettingsDep
from video_enhancer.api.schemas import error_responses
from video_enhancer.auth import service
from video_enhancer.auth.schemas import (
    LoginRequest,
    RefreshRequest,
    RegisteredUser,
    RegisterRequest,
    TokenResponse,
)

router = APIRouter()


@contextmanager
def _keep_writes_on_failure(session: Session) -> Iterator[None]:
    """Commit before re-raising the failures whose records must survive (see `service`)."""
    try:
        yield
    except service.FAILURES_TO_KEEP:
        session.commit()
        raise


def _client_ip(request: Request) -> str | None:
    # Behind trusted proxies this is already the forwarded client (see `api.client_ip`).
    return request.client.host if request.client else None


def _token_response(tokens: service.IssuedTokens) -> TokenResponse:
    return TokenResponse(
        access_token=tokens.access_token, expires_in=tokens.expires_in, refresh_token=tokens.refresh_token
    )


@router.post(
    "/register",
    operation_id="register",
    status_code=status.HTTP_201_CREATED,
    response_model=RegisteredUser,
    responses=error_responses(409, 429),
    summary="Create an account (plan FREE)",
)
def register(
    body: RegisterRequest, request: Request, session: SessionDep, settings: SettingsDep
) -> RegisteredUser:
    with _keep_writes_on_failure(session):
        user = service.register_user(session, body.email, body.password, _client_ip(request), settings)
    return RegisteredUser(id=user.id, email=user.email, plan=user.plan)


@router.post(
    "/login",
    operation_id="login",
    response_model=TokenResponse,
    responses=error_responses(401, 429),
    summary="Exchange email and password for an access and a refresh token",
)
def login(body: LoginRequest, request: Request, session: SessionDep, settings: SettingsDep) -> TokenResponse:
    with _keep_writes_on_failure(session):
        tokens = service.login(session, body.email, body.password, _client_ip(request), settings)
    return _token_response(tokens)


@router.post(
    "/refresh",
    operation_id="refreshTokens",
    response_model=TokenResponse,
    responses=error_responses(401),
    summary="Rotate a refresh token: returns new tokens; the presented one becomes unusable",
)
def refresh(body: RefreshRequest, session: SessionDep, settings: SettingsDep) -> TokenResponse:
    with _keep_writes_on_failure(session):
        tokens = service.refresh(session, body.refresh_token, settings)
    return _token_response(tokens)


@router.post(
    "/logout",
    operation_id="logout",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    responses=error_responses(),
    summary="Revoke the refresh token and every token rotated from the same login",
)
def logout(body: RefreshRequest, session: SessionDep) -> None:
    service.logout(session, body.refresh_token)
