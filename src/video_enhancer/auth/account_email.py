"""Email verification and password reset: the business rules behind the mailed links.

A password reset request answers the same whether or not the email has an account (no
enumeration); it is rate-limited per email and per client IP on the login-attempts table, and
counts for unknown emails too, so the limit reveals nothing either. A reset revokes every
refresh token of the account: every device signs in again.
"""

from __future__ import annotations

import logging
import math
import uuid
from datetime import datetime, timedelta

from sqlalchemy import update
from sqlalchemy.orm import Session

from video_enhancer.auth import repository
from video_enhancer.auth.email_tokens import (
    PASSWORD_RESET,
    VERIFY_EMAIL,
    InvalidEmailToken,
    consume_email_token,
    issue_email_token,
    use_up_tokens,
)
from video_enhancer.auth.mail import queue_mail
from video_enhancer.auth.passwords import hash_password
from video_enhancer.auth.rate_limit import email_key
from video_enhancer.config import Settings
from video_enhancer.errors import Conflict, RateLimited
from video_enhancer.models import RefreshToken, User, utcnow
from video_enhancer.users.repository import get_user_by_email, normalize_email

logger = logging.getLogger(__name__)


class EmailAlreadyVerified(Conflict):
    default_code = "EMAIL_ALREADY_VERIFIED"
    default_message = "This email address is already verified."


def _link(settings: Settings, path: str, token: str) -> str:
    # The token is a path segment: the link opens the app, which POSTs it back to the API.
    base = (settings.email_link_base_url or settings.public_base_url).rstrip("/")
    return f"{base}/{path}/{token}"


# Email verification


def request_email_verification(session: Session, user: User, settings: Settings) -> None:
    if user.email_verified_at is not None:
        raise EmailAlreadyVerified()
    # The same budget as reset requests: mail costs money and a signed-in client could loop.
    limits = [("verify-" + email_key(user.email), settings.password_reset_rate_limit_attempts)]
    now = utcnow()
    _ensure_reset_allowed(session, limits, timedelta(seconds=settings.login_rate_limit_window_seconds), now)
    repository.add_login_failure(session, [key for key, allowed in limits if allowed > 0], now)
    ttl = timedelta(hours=settings.email_verification_ttl_hours)
    token = issue_email_token(session, user.id, VERIFY_EMAIL, ttl)
    body = (
        "Confirm your email address for Video Enhancer by opening this link:\n\n"
        f"{_link(settings, 'verify-email', token)}\n\n"
        f"The link works once, for {settings.email_verification_ttl_hours} hours. "
        "If you did not create an account, ignore this mail.\n"
    )
    queue_mail(session, to=user.email, subject="Confirm your email address", body=body, user_id=user.id)


def verify_email(session: Session, token: str) -> User:
    user = _live_user(session, consume_email_token(session, token, VERIFY_EMAIL))
    user.email_verified_at = user.email_verified_at or utcnow()
    use_up_tokens(session, user.id, VERIFY_EMAIL)
    logger.info("email verified", extra={"user_id": str(user.id)})
    return user


def _live_user(session: Session, user_id: uuid.UUID) -> User:
    user = session.get(User, user_id)
    if user is None or user.deleted_at is not None:
        raise InvalidEmailToken()
    return user


# Password reset


def request_password_reset(session: Session, email: str, client_ip: str | None, settings: Settings) -> None:
    """Mail a reset link when the email has an account; the same silence when it has not."""
    normalized = normalize_email(email)
    now = utcnow()
    limits = _reset_limits(normalized, client_ip, settings)
    _ensure_reset_allowed(session, limits, timedelta(seconds=settings.login_rate_limit_window_seconds), now)
    repository.add_login_failure(session, [key for key, allowed in limits if allowed > 0], now)
    user = get_user_by_email(session, normalized)
    if user is None or user.deleted_at is not None:
        return
    ttl = timedelta(minutes=settings.password_reset_ttl_minutes)
    token = issue_email_token(session, user.id, PASSWORD_RESET, ttl)
    body = (
        "Someone asked to reset the password of your Video Enhancer account. To choose a new one, "
        f"open this link:\n\n{_link(settings, 'reset-password', token)}\n\n"
        f"The link works once, for {settings.password_reset_ttl_minutes} minutes. "
        "If it was not you, ignore this mail: your password stays as it is.\n"
    )
    queue_mail(session, to=user.email, subject="Reset your password", body=body, user_id=user.id)


def _reset_limits(normalized_email: str, client_ip: str | None, settings: Settings) -> list[tuple[str, int]]:
    limits = [("reset-" + email_key(normalized_email), settings.password_reset_rate_limit_attempts)]
    if client_ip:
        limits.append((f"reset-ip:{client_ip[:200]}", settings.password_reset_rate_limit_ip_attempts))
    return limits


def _ensure_reset_allowed(
    session: Session, limits: list[tuple[str, int]], window: timedelta, now: datetime
) -> None:
    for key, allowed in limits:
        if allowed <= 0:
            continue
        recent = repository.recent_failures(session, key, now - window, allowed)
        if len(recent) >= allowed:
            wait = max(1, math.ceil((recent[-1] + window - now).total_seconds()))
            raise RateLimited(retry_after=wait, message="Too many mails asked for; try again later.")


def reset_password(session: Session, token: str, new_password: str, settings: Settings) -> User:
    user = _live_user(session, consume_email_token(session, token, PASSWORD_RESET))
    user.password_hash = hash_password(new_password, settings.bcrypt_rounds)
    # Reading the mail proved the address too.
    user.email_verified_at = user.email_verified_at or utcnow()
    use_up_tokens(session, user.id, PASSWORD_RESET)
    session.execute(
        update(RefreshToken)
        .where(RefreshToken.user_id == user.id, RefreshToken.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )
    repository.clear_failures(session, email_key(user.email))
    logger.info("password reset", extra={"user_id": str(user.id)})
    return user
