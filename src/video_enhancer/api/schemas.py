"""Schemas shared by every router: the error envelope and its OpenAPI declaration.

Every error the API returns has the shape ``{"error": {"code": "...", "message": "..."}}`` (see
`video_enhancer.app`). Routes declare the statuses they can answer with `error_responses`, so the
OpenAPI document describes every error and schema-based fuzzing can check them::

    @router.get("/me", responses=error_responses(401))
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["ErrorBody", "ErrorResponse", "error_responses"]


class ErrorBody(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"code": "NOT_FOUND", "message": "…"}]})

    code: str = Field(description="Stable, machine-readable error code, e.g. QUOTA_EXCEEDED.")
    message: str = Field(description="Human-readable explanation; may change between versions.")


class ErrorResponse(BaseModel):
    error: ErrorBody


_DESCRIPTIONS: dict[int, str] = {
    400: "Bad request (INVALID_INPUT and other business rule violations).",
    401: "Missing, invalid or expired credentials (NOT_AUTHENTICATED, INVALID_TOKEN, INVALID_CREDENTIALS).",
    403: "Not allowed (FORBIDDEN, QUOTA_EXCEEDED, PLAN_LIMIT).",
    404: "Not found, or not yours (NOT_FOUND).",
    409: "Conflict with the current state (EMAIL_TAKEN, INVALID_STATE).",
    413: "Payload too large (UPLOAD_TOO_LARGE).",
    415: "Unsupported media type (UNSUPPORTED_MEDIA_TYPE).",
    416: "Range not satisfiable (RANGE_NOT_SATISFIABLE).",
    422: "Malformed request body or parameters (VALIDATION_ERROR).",
    429: "Too many requests (RATE_LIMITED); see the Retry-After header.",
    503: "A backing service is unavailable (STORAGE_UNAVAILABLE, SERVICE_UNAVAILABLE).",
}

_RETRY_AFTER_HEADER: dict[str, Any] = {
    "Retry-After": {"description": "Seconds to wait before retrying.", "schema": {"type": "integer"}}
}


def error_responses(*status_codes: int) -> dict[int | str, dict[str, Any]]:
    """The `responses=` mapping for a route that can answer with these error statuses.

    422 is always included because FastAPI validates every body and parameter; declaring it here
    makes it use the error envelope instead of FastAPI's default validation schema.
    """
    responses: dict[int | str, dict[str, Any]] = {}
    for status in sorted({*status_codes, 422}):
        entry: dict[str, Any] = {
            "model": ErrorResponse,
            "description": _DESCRIPTIONS.get(status, "Error."),
        }
        if status == 429:
            entry["headers"] = _RETRY_AFTER_HEADER
        responses[status] = entry
    return responses
