"""User queries."""

from __future__ import annotations

import unicodedata

from email_validator import EmailNotValidError, validate_email
from sqlalchemy import select
from sqlalchemy.orm import Session

from video_enhancer.models import User


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
