"""Errors with a stable code: `ServiceError` for every layer, `AppError` for those the API serves.

Hierarchy::

    ServiceError                    a stable code, a message for users, a detail for logs
    ├── MediaError                  media pipeline failures (`media.errors`), stored on the job
    ├── EnhancerError               enhancer failures (`enhancers.base`), stored on the job
    └── AppError                    + the HTTP status the API answers with
        ├── BadRequest (400)            INVALID_INPUT, UNSUPPORTED_MEDIA_TYPE, SIZE_MISMATCH
        ├── Unauthorized (401)          NOT_AUTHENTICATED, INVALID_TOKEN, INVALID_CREDENTIALS
        ├── Forbidden (403)             FORBIDDEN, QUOTA_EXCEEDED, PLAN_LIMIT, DURATION_EXCEEDED
        ├── NotFound (404)              NOT_FOUND (also for other users' resources)
        ├── Conflict (409)              CONFLICT, EMAIL_TAKEN, INVALID_STATE, UPLOAD_INCOMPLETE
        ├── PayloadTooLarge (413)       UPLOAD_TOO_LARGE (a body over the API's limit: BODY_TOO_LARGE,
        │                               from `api.body_limit` before any route runs)
        ├── RateLimited (429)           RATE_LIMITED (carries retry_after seconds)
        └── ServiceUnavailable (503)    SERVICE_UNAVAILABLE, STORAGE_UNAVAILABLE

Media and enhancer errors carry no HTTP status: they happen in the worker or the `enhance`
command, never in a request, and reach users as a job's `errorCode`/`errorMessage`.

Request validation failures answer 422 VALIDATION_ERROR and anything unexpected 500
INTERNAL_ERROR (rendered in `app.py`).

Services raise these, never `HTTPException`; one handler renders every `AppError` as
``{"error": {"code": "...", "message": "..."}}``.
"""

from __future__ import annotations

from typing import Any, ClassVar


class ServiceError(Exception):
    """A failure with a stable `code`, a `message` fit for users and a `detail` for logs only."""

    default_code: ClassVar[str] = "INTERNAL_ERROR"
    default_message: ClassVar[str] = "An unexpected error occurred."

    def __init__(self, message: str | None = None, *, code: str | None = None, detail: str = "") -> None:
        self.code = code or self.default_code
        self.message = message or self.default_message
        self.detail = detail
        super().__init__(self.message)

    def __str__(self) -> str:
        return f"{self.message} ({self.detail})" if self.detail else self.message


class AppError(ServiceError):
    """A `ServiceError` the API renders, with the HTTP status it answers with."""

    status_code: ClassVar[int] = 500

    def __init__(self, message: str | None = None, *, code: str | None = None, **details: Any) -> None:
        super().__init__(message, code=code)
        self.details = details

    def to_dict(self) -> dict[str, Any]:
        return {"error": {"code": self.code, "message": self.message}}


class BadRequest(AppError):
    status_code = 400
    default_code = "INVALID_INPUT"
    default_message = "The request is not valid."


class Unauthorized(AppError):
    status_code = 401
    default_code = "NOT_AUTHENTICATED"
    default_message = "Authentication is required."


class InvalidToken(Unauthorized):
    default_code = "INVALID_TOKEN"
    default_message = "The token is invalid or expired."


class InvalidCredentials(Unauthorized):
    default_code = "INVALID_CREDENTIALS"
    default_message = "Email or password is incorrect."


class Forbidden(AppError):
    status_code = 403
    default_code = "FORBIDDEN"
    default_message = "You are not allowed to do this."


class QuotaExceeded(Forbidden):
    default_code = "QUOTA_EXCEEDED"
    default_message = "Your plan's quota does not allow this."


class PlanLimitExceeded(Forbidden):
    default_code = "PLAN_LIMIT"
    default_message = "Your plan does not allow this."


class NotFound(AppError):
    status_code = 404
    default_code = "NOT_FOUND"
    default_message = "The resource does not exist."


class Conflict(AppError):
    status_code = 409
    default_code = "CONFLICT"
    default_message = "The request conflicts with the current state."


class InvalidState(Conflict):
    default_code = "INVALID_STATE"
    default_message = "The resource is not in a state that allows this."


class PayloadTooLarge(AppError):
    status_code = 413
    default_code = "UPLOAD_TOO_LARGE"
    default_message = "The upload is larger than allowed."


class RateLimited(AppError):
    status_code = 429
    default_code = "RATE_LIMITED"
    default_message = "Too many requests; try again later."

    def __init__(self, retry_after: int, message: str | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class ServiceUnavailable(AppError):
    status_code = 503
    default_code = "SERVICE_UNAVAILABLE"
    default_message = "A backing service is unavailable; try again later."


class StorageUnavailable(ServiceUnavailable):
    default_code = "STORAGE_UNAVAILABLE"
    default_message = "Storage is unavailable; try again later."
