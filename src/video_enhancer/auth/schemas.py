"""Request and response bodies of the /auth routes (camelCase on the wire)."""

from __future__ import annotations

import uuid
from typing import Literal

from pydantic import EmailStr, Field

from video_enhancer.api.schemas import CamelModel, CamelRequest
from video_enhancer.models import Plan

PASSWORD_MIN_LENGTH = 8
PASSWORD_MAX_LENGTH = 128


class RegisterRequest(CamelRequest):
    email: EmailStr = Field(max_length=320, description="Stored lower-cased.")
    password: str = Field(
        min_length=PASSWORD_MIN_LENGTH,
        max_length=PASSWORD_MAX_LENGTH,
        description=f"{PASSWORD_MIN_LENGTH} to {PASSWORD_MAX_LENGTH} characters.",
    )


class RegisteredUser(CamelModel):
    id: uuid.UUID
    email: str
    plan: Plan


class LoginRequest(CamelRequest):
    # Not validated as an email: a malformed address gets the same answer as an unknown one.
    # Control characters are refused (no address contains them; PostgreSQL text cannot hold NUL).
    email: str = Field(min_length=1, max_length=320, pattern=r"^[^\x00-\x1f\x7f]+$")
    password: str = Field(min_length=1, max_length=PASSWORD_MAX_LENGTH)


class RefreshRequest(CamelRequest):
    refresh_token: str = Field(min_length=1, max_length=256)


class TokenResponse(CamelModel):
    access_token: str = Field(description="HS256 JWT; send as `Authorization: Bearer <token>`.")
    token_type: Literal["bearer"] = "bearer"
    expires_in: int = Field(description="Seconds until the access token expires.")
    refresh_token: str = Field(description="Opaque; single use: /auth/refresh returns its successor.")
