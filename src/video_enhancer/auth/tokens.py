"""Access tokens: HS256 JWTs with a pinned algorithm and required claims.

An app sends the same token with every poll: the user id of a token verified once is kept (a
bounded cache, keyed by the token, its type and the secret) until the token expires, so a poll
costs a dictionary lookup and a clock read instead of a full verification (about 60 µs). Nothing
in a verified token's checks can change before it expires but the time, which is checked on
every use; an account deleted since is refused by whoever reads the account, as before.
"""

from __future__ import annotations

import hashlib
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

import jwt

from video_enhancer.config import Settings
from video_enhancer.errors import InvalidToken
from video_enhancer.logging import bind_user_id
from video_enhancer.models import utcnow

ALGORITHM = "HS256"
ACCESS_TOKEN_TYPE = "access"
# Read-only, minutes long, for `EventSource` (which cannot send headers): `?token=` on /events.
STREAM_TOKEN_TYPE = "stream"
_REQUIRED_CLAIMS = ["exp", "iat", "sub", "type", "jti"]


def create_access_token(user_id: uuid.UUID, settings: Settings) -> str:
    return _encode(user_id, ACCESS_TOKEN_TYPE, settings.access_token_ttl_seconds, settings)


def create_stream_token(user_id: uuid.UUID, settings: Settings) -> str:
    return _encode(user_id, STREAM_TOKEN_TYPE, settings.stream_token_ttl_seconds, settings)


def _encode(user_id: uuid.UUID, token_type: str, ttl_seconds: int, settings: Settings) -> str:
    now = utcnow()
    claims = {
        "sub": str(user_id),
        "type": token_type,
        "iat": now,
        "exp": now + timedelta(seconds=ttl_seconds),
        "jti": uuid.uuid4().hex,
    }
    return jwt.encode(claims, settings.jwt_secret.get_secret_value(), algorithm=ALGORITHM)


def decode_access_token(token: str, settings: Settings) -> uuid.UUID:
    """Return the user id of a valid access token, or raise `InvalidToken`."""
    return _decode(token, ACCESS_TOKEN_TYPE, settings)


def decode_stream_token(token: str, settings: Settings) -> uuid.UUID:
    """Return the user id of a valid stream token (never an access token), or raise `InvalidToken`."""
    return _decode(token, STREAM_TOKEN_TYPE, settings)


class VerifiedTokens:
    """User ids of verified tokens until their expiry; the least recently used go first."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._entries: OrderedDict[tuple[str, str, bytes], tuple[uuid.UUID, float]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: tuple[str, str, bytes]) -> uuid.UUID | None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            if time.time() >= entry[1]:  # PyJWT's test: valid while `exp` is still ahead
                del self._entries[key]
                return None
            self._entries.move_to_end(key)
            return entry[0]

    def put(self, key: tuple[str, str, bytes], user_id: uuid.UUID, expires_at: float) -> None:
        with self._lock:
            self._entries[key] = (user_id, expires_at)
            self._entries.move_to_end(key)
            while len(self._entries) > self.capacity:
                self._entries.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)


# Enough for the tokens of every app polling one API process at once; about 300 bytes each.
verified_tokens = VerifiedTokens(capacity=20_000)


def _decode(token: str, token_type: str, settings: Settings) -> uuid.UUID:
    secret = settings.jwt_secret.get_secret_value()
    # The secret's digest, not the secret, goes into the key: a rotated secret misses the cache.
    key = (token, token_type, hashlib.blake2b(secret.encode(), digest_size=16).digest())
    cached = verified_tokens.get(key)
    if cached is not None:
        return cached
    user_id, expires_at = _verify(token, token_type, secret)
    verified_tokens.put(key, user_id, expires_at)
    return user_id


def _verify(token: str, token_type: str, secret: str) -> tuple[uuid.UUID, float]:
    try:
        claims = jwt.decode(
            token,
            secret,
            algorithms=[ALGORITHM],
            options={"require": _REQUIRED_CLAIMS, "verify_exp": True, "verify_iat": True},
        )
        if claims.get("type") != token_type:
            raise InvalidToken()
        return uuid.UUID(str(claims["sub"])), float(claims["exp"])
    except (jwt.PyJWTError, ValueError) as exc:
        raise InvalidToken() from exc


def check_caller_row(row: Any, user_id: uuid.UUID) -> None:
    """For a read that checks the caller's account in its own statement (a row with
    `owner_deleted_at`; no row when the account does not exist): refuse the token of an account
    that is gone, as `api.deps.account_of` does, and name the caller in the request's logs."""
    if row is None or row.owner_deleted_at is not None:
        raise InvalidToken()
    bind_user_id(str(user_id))


def caller_page(rows: Sequence[Any], user_id: uuid.UUID) -> tuple[list[Any], int]:
    """The rows of a page read with its caller's account (`users.repository.with_owner`): the
    account checked (`check_caller_row`), then the page's rows and the total."""
    check_caller_row(rows[0] if rows else None, user_id)
    return [row for row in rows if row.id is not None], int(rows[0].total)
