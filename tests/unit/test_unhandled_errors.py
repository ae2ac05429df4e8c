"""An unexpected exception becomes a plain 500 that still carries the request id, in the response
and in the log line that records the traceback."""

from __future__ import annotations

import logging

from fastapi import FastAPI
from fastapi.testclient import TestClient

from fixtures_api import app, client  # noqa: F401 - the real application on the test database
from video_enhancer.logging import request_id_var


class _RequestIdRecorder(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.seen: list[tuple[str, str | None]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.seen.append((record.getMessage(), request_id_var.get()))


def test_unhandled_error_is_a_500_with_the_request_id(app: FastAPI, client: TestClient) -> None:  # noqa: F811
    @app.get("/__test__/explode")
    def explode() -> None:
        raise RuntimeError("database password is hunter2")

    recorder = _RequestIdRecorder()
    app_logger = logging.getLogger("video_enhancer.app")
    app_logger.addHandler(recorder)
    try:
        response = client.get("/__test__/explode", headers={"X-Request-ID": "req-explode-1"})
    finally:
        app_logger.removeHandler(recorder)

    assert response.status_code == 500
    assert response.json() == {
        "error": {"code": "INTERNAL_ERROR", "message": "An unexpected error occurred."}
    }
    assert response.headers["X-Request-ID"] == "req-explode-1"
    assert "hunter2" not in response.text and "Traceback" not in response.text
    assert ("unhandled error", "req-explode-1") in recorder.seen
