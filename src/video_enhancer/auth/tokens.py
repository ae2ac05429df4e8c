"""Access tokens: HS256 JWTs with a pinned algorithm and required claims."""

from __future__ import annotations

import uuid
from datetime import timedelta

import jwt

from video_enhancer.config import Settings
from video_enhancer.errors import InvalidToken
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


def _decode(token: str, token_type: str, settings: Settings) -> uuid.UUID:
    try:
        claims = jwt.decode(
            token,
            settings.jwt_secret.get_secret_value(),
            algorithms=[ALGORITHM],
            options={"require": _REQUIRED_CLAIMS, "verify_exp": True, "verify_iat": True},
        )
        if claims.get("type") != token_type:
            raise InvalidToken()
        return uuid.UUID(str(claims["sub"]))
    except (jwt.PyJWTError, ValueError) as exc:
        raise InvalidToken() from exc
