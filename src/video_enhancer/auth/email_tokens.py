"""Single-use, expiring tokens sent by mail: email verification and password reset.

A token is 32 random bytes, URL-safe; only its SHA-256 is stored. Consuming one marks it used
under a row lock, so a link works once even when two requests race.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from datetime import timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from video_enhancer.errors import BadRequest
from video_enhancer.models import EmailToken, utcnow

VERIFY_EMAIL = "verify_email"
PASSWORD_RESET = "password_reset"


class InvalidEmailToken(BadRequest):
    default_code = "INVALID_EMAIL_TOKEN"
    default_message = "This link is invalid, expired or already used; ask for a new one."


def hash_email_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def issue_email_token(session: Session, user_id: uuid.UUID, purpose: str, ttl: timedelta) -> str:
    token = secrets.token_urlsafe(32)
    now = utcnow()
    session.add(
        EmailToken(
            user_id=user_id,
            purpose=purpose,
            token_hash=hash_email_token(token),
            expires_at=now + ttl,
            created_at=now,
        )
    )
    session.flush()
    return token


def consume_email_token(session: Session, token: str, purpose: str) -> uuid.UUID:
    """The user id of a live token of `purpose`, which is used up; else `InvalidEmailToken`."""
    query = select(EmailToken).where(EmailToken.token_hash == hash_email_token(token)).with_for_update()
    stored = session.scalar(query)
    now = utcnow()
    if stored is None or stored.purpose != purpose or stored.used_at is not None or stored.expires_at <= now:
        raise InvalidEmailToken()
    stored.used_at = now
    session.flush()
    return stored.user_id


def use_up_tokens(session: Session, user_id: uuid.UUID, purpose: str) -> None:
    """Every unused token of `purpose` for the user stops working (a newer one was used)."""
    session.execute(
        update(EmailToken)
        .where(EmailToken.user_id == user_id, EmailToken.purpose == purpose, EmailToken.used_at.is_(None))
        .values(used_at=utcnow())
    )
