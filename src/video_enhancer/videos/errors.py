"""Errors of the videos domain; each carries a stable code and its HTTP status."""

from __future__ import annotations

from video_enhancer.errors import AppError, BadRequest, Conflict, NotFound, PlanLimitExceeded


class VideoNotFound(NotFound):
    default_message = "The video does not exist."


class UnsupportedMediaType(BadRequest):
    default_code = "UNSUPPORTED_MEDIA_TYPE"
    default_message = "This content type is not a supported video format."


class DurationExceeded(PlanLimitExceeded):
    default_code = "DURATION_EXCEEDED"
    default_message = "The video is longer than your plan allows."


class UploadIncomplete(Conflict):
    default_code = "UPLOAD_INCOMPLETE"
    default_message = "The upload has not arrived in storage yet."


class SizeMismatch(BadRequest):
    default_code = "SIZE_MISMATCH"
    default_message = "The upload's size does not match the declared size."


class IdempotencyKeyReused(AppError):
    status_code = 422
    default_code = "IDEMPOTENCY_KEY_REUSED"
    default_message = "This Idempotency-Key was already used with a different request."
