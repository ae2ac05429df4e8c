"""User queries."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from video_enhancer.models import User


def normalize_email(email: str) -> str:
    """Emails are stored and compared lower-cased, so `Ann@X.com` and `ann@x.com` are one account."""
    return email.strip().lower()


def get_user_by_email(session: Session, email: str) -> User | None:
    return session.scalar(select(User).where(User.email == normalize_email(email)))


def add_user(session: Session, user: User) -> User:
    session.add(user)
    session.flush()
    return user
