"""One root for every stable error code; only the API's errors carry an HTTP status."""

from __future__ import annotations

import pytest

from video_enhancer.enhancers.base import EnhancerError
from video_enhancer.enhancers.registry import EnhancerUnavailableError, UnknownEnhancerError
from video_enhancer.errors import AppError, NotFound, ServiceError
from video_enhancer.media.errors import DecodeFailed, InvalidVideo, MediaError, PipelineStopped


@pytest.mark.parametrize(
    "error_class",
    [MediaError, InvalidVideo, DecodeFailed, PipelineStopped, EnhancerError, UnknownEnhancerError],
)
def test_media_and_enhancer_errors_are_service_errors_without_a_status(
    error_class: type[ServiceError],
) -> None:
    assert issubclass(error_class, ServiceError)
    assert not issubclass(error_class, AppError)
    assert not hasattr(error_class, "status_code")


def test_a_service_error_keeps_code_message_and_detail_apart() -> None:
    error = DecodeFailed("The video stops at 0:12.", detail="Invalid NAL unit size")
    assert (error.code, error.message, error.detail) == (
        "DECODE_FAILED",
        "The video stops at 0:12.",
        "Invalid NAL unit size",
    )
    assert str(error) == "The video stops at 0:12. (Invalid NAL unit size)"
    assert str(InvalidVideo()) == InvalidVideo.default_message


def test_the_code_can_be_given_and_defaults_per_class() -> None:
    assert EnhancerUnavailableError("no weights").code == "ENHANCER_UNAVAILABLE"
    assert EnhancerError("x", code="CUSTOM").code == "CUSTOM"


def test_app_errors_are_service_errors_with_a_status() -> None:
    error = NotFound("No such video.")
    assert isinstance(error, ServiceError)
    assert (error.status_code, error.code, error.detail) == (404, "NOT_FOUND", "")
    assert error.to_dict() == {"error": {"code": "NOT_FOUND", "message": "No such video."}}
