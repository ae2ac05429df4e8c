"""Login rate limiting on failed attempts, per email and per client IP; registrations per IP.

Failures live in the `login_attempts` table, so every API instance sees the same counts. Once a
key has its maximum of failures inside the window, every further attempt (even with the right
password, which is the point against guessing) answers 429 until enough of them age out. Email
keys store a SHA-256 of the address, so the table holds no addresses.

An IP key allows many more failures than an email key: mobile carriers put many phones behind
one NAT address, and a few typos by strangers must not lock them all out. The IP limit is there
against one source spraying guesses over many accounts.

Every registration attempt counts against its client IP (`register-ip:` keys in the same
table): each one costs a bcrypt hash and may grant a FREE video.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from video_enhancer.auth import repository
from video_enhancer.config import Settings
from video_enhancer.errors import RateLimited

_IP_PREFIX = "ip:"
REGISTER_PREFIX = "register-ip:"
LOGIN_PREFIXES = ("email:", _IP_PREFIX)


@dataclass(frozen=True, slots=True)
class LoginRateLimit:
    per_email: int  # 0 or less disables that limit
    per_ip: int
    window: timedelta

    @classmethod
    def from_settings(cls, settings: Settings) -> LoginRateLimit:
        return cls(
            settings.login_rate_limit_attempts,
            settings.login_rate_limit_ip_attempts,
            timedelta(seconds=settings.login_rate_limit_window_seconds),
        )

    @property
    def enabled(self) -> bool:
        return self.per_email > 0 or self.per_ip > 0

    def max_failures(self, key: str) -> int:
        return self.per_ip if key.startswith(_IP_PREFIX) else self.per_email


@dataclass(frozen=True, slots=True)
class RegistrationRateLimit:
    per_ip: int  # 0 or less disables the limit
    window: timedelta

    @classmethod
    def from_settings(cls, settings: Settings) -> RegistrationRateLimit:
        return cls(
            settings.register_rate_limit_ip_attempts,
            timedelta(seconds=settings.register_rate_limit_window_seconds),
        )


def email_key(normalized_email: str) -> str:
    return "email:" + hashlib.sha256(normalized_email.encode("utf-8")).hexdigest()


def login_keys(normalized_email: str, client_ip: str | None) -> list[str]:
    keys = [email_key(normalized_email)]
    if client_ip:
        keys.append(f"{_IP_PREFIX}{client_ip[:200]}")
    return keys


def ensure_login_allowed(session: Session, keys: list[str], limit: LoginRateLimit, now: datetime) -> None:
    """Raise `RateLimited` (with the seconds until an attempt is allowed again) for a blocked key."""
    if not limit.enabled:
        return
    waits = [_seconds_blocked(session, key, limit, now) for key in keys]
    longest = max(waits, default=0)
    if longest > 0:
        raise RateLimited(retry_after=longest, message="Too many failed login attempts; try again later.")


def _seconds_blocked(session: Session, key: str, limit: LoginRateLimit, now: datetime) -> int:
    return _seconds_until_allowed(session, key, limit.max_failures(key), limit.window, now)


def _seconds_until_allowed(session: Session, key: str, allowed: int, window: timedelta, now: datetime) -> int:
    if allowed <= 0:
        return 0
    attempts = repository.recent_failures(session, key, now - window, allowed)
    if len(attempts) < allowed:
        return 0
    # Unblocked once the oldest of the last `allowed` attempts leaves the window.
    unblocked_at = attempts[-1] + window
    return max(1, math.ceil((unblocked_at - now).total_seconds()))


def record_login_failure(session: Session, keys: list[str], limit: LoginRateLimit, now: datetime) -> None:
    if not limit.enabled:
        return
    # Rows older than the window count for nothing; dropping them here keeps the table small.
    repository.prune_failures(session, now - limit.window, LOGIN_PREFIXES)
    repository.add_login_failure(session, keys, now)


def clear_email_failures(session: Session, normalized_email: str) -> None:
    repository.clear_failures(session, email_key(normalized_email))


def record_registration_attempt(
    session: Session, client_ip: str | None, limit: RegistrationRateLimit, now: datetime
) -> None:
    """Count a registration from `client_ip`, or raise `RateLimited` when it has had its share."""
    if limit.per_ip <= 0 or not client_ip:
        return
    key = f"{REGISTER_PREFIX}{client_ip[:200]}"
    wait = _seconds_until_allowed(session, key, limit.per_ip, limit.window, now)
    if wait > 0:
        raise RateLimited(
            retry_after=wait, message="Too many registrations from this address; try again later."
        )
    repository.prune_failures(session, now - limit.window, (REGISTER_PREFIX,))
    repository.add_login_failure(session, [key], now)
