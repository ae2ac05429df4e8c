"""Registration, login, refresh-token rotation and logout.

Refresh tokens are opaque random strings; only their SHA-256 is stored. Each login starts a
*family*; `refresh` marks the presented token used and issues its successor in the same family.
A used or revoked token presented again means it was copied: the whole family is revoked, so
neither the thief nor the owner can go on refreshing (the owner logs in again).

Services never commit. Some failures must nevertheless be kept although the request fails: a failed
login (rate limiting counts it), a registration refused as taken (the registration limit counts
it) and a family revoked on reuse. The router commits for those
(see `FAILURES_TO_KEEP`).
"""

from __future__ import annotations

import hashlib
import logging
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from video_enhancer.auth import rate_limit, repository
from video_enhancer.auth.passwords import burn_verification_time, hash_password, verify_password
from video_enhancer.auth.tokens import create_access_token
from video_enhancer.config import Settings
from video_enhancer.errors import AppError, Conflict, InvalidCredentials, InvalidToken
from video_enhancer.models import RefreshToken, User, utcnow
from video_enhancer.users.repository import add_user, get_user_by_email, normalize_email

logger = logging.getLogger(__name__)


class EmailTaken(Conflict):
    default_code = "EMAIL_TAKEN"
    default_message = "An account with this email already exists."


# Failures whose database writes outlive the failed request (see the module docstring); a
# registration refused as taken still counts against its IP's registration limit.
FAILURES_TO_KEEP: tuple[type[AppError], ...] = (InvalidCredentials, InvalidToken, EmailTaken)


@dataclass(frozen=True, slots=True)
class IssuedTokens:
    access_token: str
    expires_in: int
    refresh_token: str


def register_user(
    session: Session, email: str, password: str, client_ip: str | None, settings: Settings
) -> User:
    limit = rate_limit.RegistrationRateLimit.from_settings(settings)
    rate_limit.record_registration_attempt(session, client_ip, limit, utcnow())
    normalized = normalize_email(email)
    if get_user_by_email(session, normalized) is not None:
        raise EmailTaken()
    user = User(email=normalized, password_hash=hash_password(password, settings.bcrypt_rounds))
    try:
        # A savepoint: losing the race undoes the insert only, and the attempt above still counts.
        with session.begin_nested():
            add_user(session, user)
    except IntegrityError as exc:  # a concurrent registration of the same email won the race
        raise EmailTaken() from exc
    logger.info("user registered", extra={"user_id": str(user.id)})
    return user


def login(
    session: Session, email: str, password: str, client_ip: str | None, settings: Settings
) -> IssuedTokens:
    now = utcnow()
    normalized = normalize_email(email)
    limit = rate_limit.LoginRateLimit.from_settings(settings)
    keys = rate_limit.login_keys(normalized, client_ip)
    rate_limit.ensure_login_allowed(session, keys, limit, now)
    user = _authenticate(session, normalized, password, settings)
    if user is None:
        rate_limit.record_login_failure(session, keys, limit, now)
        logger.info("login failed", extra={"rate_limit_key": keys[0]})
        raise InvalidCredentials()
    rate_limit.clear_email_failures(session, normalized)
    logger.info("login succeeded", extra={"user_id": str(user.id)})
    return _issue_tokens(session, user.id, uuid.uuid4(), settings, now)


def _authenticate(session: Session, normalized_email: str, password: str, settings: Settings) -> User | None:
    user = get_user_by_email(session, normalized_email)
    if user is None:
        # Same work as a wrong password, so response time does not tell which emails exist.
        burn_verification_time(password, settings.bcrypt_rounds)
        return None
    return user if verify_password(password, user.password_hash) else None


def refresh(session: Session, refresh_token: str, settings: Settings) -> IssuedTokens:
    now = utcnow()
    stored = repository.get_refresh_token_for_update(session, hash_refresh_token(refresh_token))
    if stored is None:
        raise InvalidToken()
    if stored.used_at is not None or stored.revoked_at is not None:
        revoked = repository.revoke_family(session, stored.family_id, now)
        logger.warning(
            "refresh token reused; family revoked",
            extra={"family_id": str(stored.family_id), "tokens_revoked": revoked},
        )
        raise InvalidToken()
    if stored.expires_at <= now:
        raise InvalidToken()
    stored.used_at = now
    return _issue_tokens(session, stored.user_id, stored.family_id, settings, now)


def logout(session: Session, refresh_token: str) -> None:
    """Revoke the token's family; an unknown or already revoked token is not an error."""
    stored = repository.get_refresh_token_for_update(session, hash_refresh_token(refresh_token))
    if stored is not None:
        repository.revoke_family(session, stored.family_id, utcnow())


def prune_expired_credentials(session: Session, settings: Settings, now: datetime | None = None) -> int:
    """Delete refresh tokens past their expiry and login failures past the window; for a periodic task.

    An expired token is refused whether or not its row exists, so dropping it loses no reuse
    detection. Returns the number of refresh tokens deleted.
    """
    now = now or utcnow()
    login_window = timedelta(seconds=settings.login_rate_limit_window_seconds)
    repository.prune_failures(session, now - login_window, rate_limit.LOGIN_PREFIXES)
    register_window = timedelta(seconds=settings.register_rate_limit_window_seconds)
    repository.prune_failures(session, now - register_window, (rate_limit.REGISTER_PREFIX,))
    return repository.delete_refresh_tokens_expired_before(session, now)


def hash_refresh_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _issue_tokens(
    session: Session, user_id: uuid.UUID, family_id: uuid.UUID, settings: Settings, now: datetime
) -> IssuedTokens:
    token = secrets.token_urlsafe(32)
    session.add(
        RefreshToken(
            user_id=user_id,
            family_id=family_id,
            token_hash=hash_refresh_token(token),
            expires_at=now + timedelta(days=settings.refresh_token_ttl_days),
            created_at=now,
        )
    )
    session.flush()
    return IssuedTokens(
        access_token=create_access_token(user_id, settings),
        expires_in=settings.access_token_ttl_seconds,
        refresh_token=token,
    )
