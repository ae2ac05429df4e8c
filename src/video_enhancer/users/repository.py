"""User queries."""

from __future__ import annotations

import unicodedata
from typing import Any

from email_validator import EmailNotValidError, validate_email
from sqlalchemy import ColumnElement, ScalarSelect, Select, Subquery, bindparam, select, true
from sqlalchemy.orm import Session

from video_enhancer.models import User, table_of


def normalize_email(email: str) -> str:
    """The one form an address is stored, looked up and compared in (registration, login, admin).

    The address validator's own normal form (NFC, the domain as IDNA maps it), then lower-cased
    and NFC again, so `Ann@X.com` and `ann@x.com`, or a decomposed and a composed `é`, are one
    account. Something that is not an address (a login may send anything) gets NFC and lower
    case alone; it matches no account.
    """
    text = unicodedata.normalize("NFC", email.strip())
    try:
        text = validate_email(text, check_deliverability=False).normalized
    except EmailNotValidError:
        pass
    return unicodedata.normalize("NFC", text.lower())


def get_user_by_email(session: Session, email: str) -> User | None:
    return session.scalar(select(User).where(User.email == normalize_email(email)))


def add_user(session: Session, user: User) -> User:
    session.add(user)
    session.flush()
    return user


def with_owner(page: Subquery, total: ScalarSelect[Any], *columns: ColumnElement[Any]) -> Select[Any]:
    """The account of the caller (bind parameter `user_id`) with a page of their rows
    (`db.newest_page`), its `total` and more `columns`: `owner_deleted_at` (no row when the account
    does not exist), then one row per row of the page, or one row of NULL page columns when it is
    empty (read back with `auth.tokens.caller_page`)."""
    users = table_of(User)
    return (
        select(users.c.deleted_at.label("owner_deleted_at"), total.label("total"), *page.c, *columns)
        .select_from(users.outerjoin(page, true()))
        .where(users.c.id == bindparam("user_id"))
        .order_by(page.c.created_at.desc(), page.c.id.desc())
    )
