"""Refresh-token and login-attempt queries."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import delete, or_, select, update
from sqlalchemy.orm import Session

from video_enhancer.models import LoginAttempt, RefreshToken


def get_refresh_token_for_update(session: Session, token_hash: str) -> RefreshToken | None:
    # The row lock serialises two refreshes of the same token on PostgreSQL (SQLite transactions
    # already hold the write lock), so a token can be rotated only once.
    statement = select(RefreshToken).where(RefreshToken.token_hash == token_hash).with_for_update()
    return session.scalar(statement)


def revoke_family(session: Session, family_id: uuid.UUID, now: datetime) -> int:
    result = session.execute(
        update(RefreshToken)
        .where(RefreshToken.family_id == family_id, RefreshToken.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def add_login_failure(session: Session, keys: list[str], now: datetime) -> None:
    session.add_all(LoginAttempt(key=key, attempted_at=now) for key in keys)
    session.flush()


def recent_failures(session: Session, key: str, since: datetime, limit: int) -> list[datetime]:
    """Failure times for `key` since `since`, newest first, at most `limit` of them."""
    statement = (
        select(LoginAttempt.attempted_at)
        .where(LoginAttempt.key == key, LoginAttempt.attempted_at >= since)
        .order_by(LoginAttempt.attempted_at.desc())
        .limit(limit)
    )
    return list(session.scalars(statement))


def clear_failures(session: Session, key: str) -> None:
    session.execute(delete(LoginAttempt).where(LoginAttempt.key == key))


def prune_failures(session: Session, before: datetime, key_prefixes: tuple[str, ...]) -> None:
    """Delete attempts older than `before` whose key starts with one of `key_prefixes` (each
    kind of key has its own window)."""
    starts = or_(*(LoginAttempt.key.startswith(prefix, autoescape=True) for prefix in key_prefixes))
    session.execute(delete(LoginAttempt).where(LoginAttempt.attempted_at < before, starts))


def delete_refresh_tokens_expired_before(session: Session, before: datetime) -> int:
    result = session.execute(delete(RefreshToken).where(RefreshToken.expires_at < before))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
