"""Schemas shared by every router: the camelCase bases, the error envelope and its OpenAPI declaration.

Every body on the wire is camelCase (``accessToken``, ``minutesRemaining``, ``progressPercent``):
response models derive from `CamelModel`, request bodies from `CamelRequest`, which accepts only
the documented camelCase names (see docs/adr/0007-camelcase-api-contract.md).

Every error the API returns has the shape ``{"error": {"code": "...", "message": "..."}}`` (see
`video_enhancer.app`), with `code` one of `ErrorCode`. Routes declare the statuses they can answer
with `error_responses`, so the OpenAPI document describes every error and generated clients and
schema-based fuzzing can rely on them::

    @router.get("/me", operation_id="getMe", responses=error_responses(401))
"""

from __future__ import annotations

import enum
from typing import Any

from fastapi.routing import APIRoute
from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

__all__ = [
    "CamelModel",
    "CamelRequest",
    "ErrorBody",
    "ErrorCode",
    "ErrorResponse",
    "error_responses",
    "operation_id_of",
]


def _field_title(name: str, _info: object) -> str:
    """`minutes_remaining` → "Minutes remaining" (not "Minutesremaining" from the alias)."""
    return name.replace("_", " ").capitalize()


class CamelModel(BaseModel):
    """A response body: snake_case in Python, camelCase on the wire (FastAPI serializes by alias)."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        field_title_generator=_field_title,
        validate_by_name=True,
        from_attributes=True,
        # A field with a default is still always sent: generated clients must not see it optional.
        json_schema_serialization_defaults_required=True,
    )


class CamelRequest(BaseModel):
    """A request body: only the documented camelCase names are accepted; anything else is a 422."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        field_title_generator=_field_title,
        validate_by_alias=True,
        validate_by_name=False,
        extra="forbid",
    )


class ErrorCode(enum.StrEnum):
    """Every stable `error.code` the API answers with (a failed job's `errorCode` is another set)."""

    INVALID_INPUT = "INVALID_INPUT"
    UNSUPPORTED_MEDIA_TYPE = "UNSUPPORTED_MEDIA_TYPE"
    SIZE_MISMATCH = "SIZE_MISMATCH"
    INVALID_KEY = "INVALID_KEY"
    UPLOAD_INTERRUPTED = "UPLOAD_INTERRUPTED"
    NOT_AUTHENTICATED = "NOT_AUTHENTICATED"
    INVALID_TOKEN = "INVALID_TOKEN"
    INVALID_CREDENTIALS = "INVALID_CREDENTIALS"
    FORBIDDEN = "FORBIDDEN"
    QUOTA_EXCEEDED = "QUOTA_EXCEEDED"
    PLAN_LIMIT = "PLAN_LIMIT"
    DURATION_EXCEEDED = "DURATION_EXCEEDED"
    SIGNATURE_INVALID = "SIGNATURE_INVALID"
    URL_EXPIRED = "URL_EXPIRED"
    NOT_FOUND = "NOT_FOUND"
    METHOD_NOT_ALLOWED = "METHOD_NOT_ALLOWED"
    CONFLICT = "CONFLICT"
    EMAIL_TAKEN = "EMAIL_TAKEN"
    INVALID_STATE = "INVALID_STATE"
    UPLOAD_INCOMPLETE = "UPLOAD_INCOMPLETE"
    UPLOAD_TOO_LARGE = "UPLOAD_TOO_LARGE"
    RANGE_NOT_SATISFIABLE = "RANGE_NOT_SATISFIABLE"
    VALIDATION_ERROR = "VALIDATION_ERROR"
    RATE_LIMITED = "RATE_LIMITED"
    PREVIEW_LIMIT_REACHED = "PREVIEW_LIMIT_REACHED"
    INTERNAL_ERROR = "INTERNAL_ERROR"
    SERVICE_UNAVAILABLE = "SERVICE_UNAVAILABLE"
    STORAGE_UNAVAILABLE = "STORAGE_UNAVAILABLE"
    HTTP_ERROR = "HTTP_ERROR"
    INVALID_WEBHOOK_URL = "INVALID_WEBHOOK_URL"
    BODY_TOO_LARGE = "BODY_TOO_LARGE"
    EMAIL_ALREADY_VERIFIED = "EMAIL_ALREADY_VERIFIED"
    INVALID_EMAIL_TOKEN = "INVALID_EMAIL_TOKEN"
    IDEMPOTENCY_KEY_REUSED = "IDEMPOTENCY_KEY_REUSED"
    INVALID_CONTENT_RANGE = "INVALID_CONTENT_RANGE"
    UPLOAD_IN_PROGRESS = "UPLOAD_IN_PROGRESS"
    UPLOAD_OFFSET_MISMATCH = "UPLOAD_OFFSET_MISMATCH"


class ErrorBody(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"code": "NOT_FOUND", "message": "…"}]})

    code: ErrorCode = Field(description="Stable, machine-readable error code, e.g. QUOTA_EXCEEDED.")
    message: str = Field(description="Human-readable explanation; may change between versions.")


class ErrorResponse(BaseModel):
    """The body of every error response."""

    error: ErrorBody


_DESCRIPTIONS: dict[int, str] = {
    400: "Bad request (INVALID_INPUT, UNSUPPORTED_MEDIA_TYPE, SIZE_MISMATCH, INVALID_KEY, "
    "UPLOAD_INTERRUPTED).",
    401: "Missing, invalid or expired credentials (NOT_AUTHENTICATED, INVALID_TOKEN, INVALID_CREDENTIALS).",
    403: "Not allowed (QUOTA_EXCEEDED, DURATION_EXCEEDED, PLAN_LIMIT, SIGNATURE_INVALID, URL_EXPIRED).",
    404: "Not found, or not yours (NOT_FOUND).",
    409: "Conflict with the current state (EMAIL_TAKEN, INVALID_STATE, UPLOAD_INCOMPLETE).",
    413: "Payload too large (UPLOAD_TOO_LARGE).",
    415: "Unsupported media type (UNSUPPORTED_MEDIA_TYPE).",
    416: "Range not satisfiable (RANGE_NOT_SATISFIABLE).",
    422: "Malformed request body or parameters (VALIDATION_ERROR).",
    429: "Too many requests (RATE_LIMITED); see the Retry-After header.",
    500: "Unexpected server error (INTERNAL_ERROR).",
    503: "A backing service is unavailable (STORAGE_UNAVAILABLE, SERVICE_UNAVAILABLE).",
}

_RETRY_AFTER_HEADER: dict[str, Any] = {
    "Retry-After": {"description": "Seconds to wait before retrying.", "schema": {"type": "integer"}}
}

ALWAYS_POSSIBLE = (422, 500)
"""FastAPI validates every body and parameter (422), and any route can fail unexpectedly (500)."""


def error_responses(*status_codes: int) -> dict[int | str, dict[str, Any]]:
    """The `responses=` mapping for a route that can answer with these error statuses.

    422 and 500 are always included; declaring 422 here also makes it use the error envelope
    instead of FastAPI's default validation schema.
    """
    responses: dict[int | str, dict[str, Any]] = {}
    for status in sorted({*status_codes, *ALWAYS_POSSIBLE}):
        entry: dict[str, Any] = {
            "model": ErrorResponse,
            "description": _DESCRIPTIONS.get(status, "Error."),
        }
        if status == 429:
            entry["headers"] = _RETRY_AFTER_HEADER
        responses[status] = entry
    return responses


def operation_id_of(route: APIRoute) -> str:
    """The operationId of a route declared without `operation_id=`: its name in lowerCamelCase.

    Every route of the API names its operationId explicitly; this keeps a route added without
    one readable in generated clients (``list_videos`` → ``listVideos``) instead of FastAPI's
    ``list_videos_videos_get``.
    """
    return to_camel(route.name)
