"""Request and response bodies of the email verification and password reset routes (camelCase)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from video_enhancer.auth.schemas import PASSWORD_MAX_LENGTH, PASSWORD_MIN_LENGTH


class _CamelRequest(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid")


class EmailTokenRequest(_CamelRequest):
    token: str = Field(min_length=1, max_length=128, description="The token at the end of the mailed link.")


class PasswordResetRequest(_CamelRequest):
    # Not validated as an email: a malformed address gets the same 202 as an unknown one.
    email: str = Field(min_length=1, max_length=320, pattern=r"^[^\x00-\x1f\x7f]+$")


class NewPasswordRequest(_CamelRequest):
    token: str = Field(min_length=1, max_length=128, description="The token at the end of the mailed link.")
    new_password: str = Field(
        min_length=PASSWORD_MIN_LENGTH,
        max_length=PASSWORD_MAX_LENGTH,
        description=f"{PASSWORD_MIN_LENGTH} to {PASSWORD_MAX_LENGTH} characters.",
    )


class EmailVerified(_CamelRequest):
    email_verified: bool = True
