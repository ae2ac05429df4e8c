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
_REQUIRED_CLAIMS = ["exp", "iat", "sub", "type", "jti"]


def create_access_token(user_id: uuid.UUID, settings: Settings) -> str:
    now = utcnow()
    claims = {
        "sub": str(user_id),
        "type": ACCESS_TOKEN_TYPE,
        "iat": now,
        "exp": now + timedelta(seconds=settings.access_token_ttl_seconds),
        "jti": uuid.uuid4().hex,
    }
    return jwt.encode(claims, settings.jwt_secret.get_secret_value(), algorithm=ALGORITHM)


def decode_access_token(token: str, settings: Settings) -> uuid.UUID:
    """Return the user id of a valid access token, or raise `InvalidToken`."""
    try:
        claims = jwt.decode(
            token,
            settings.jwt_secret.get_secret_value(),
            algorithms=[ALGORITHM],
            options={"require": _REQUIRED_CLAIMS, "verify_exp": True, "verify_iat": True},
        )
        if claims.get("type") != ACCESS_TOKEN_TYPE:
            raise InvalidToken()
        return uuid.UUID(str(claims["sub"]))
    except (jwt.PyJWTError, ValueError) as exc:
        raise InvalidToken() from exc
