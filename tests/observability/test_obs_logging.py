"""JSON log lines: ids from the context, secrets redacted, one access line per request."""

from __future__ import annotations

import json
import logging
from typing import Annotated, Any

import pytest
from fastapi import Depends, FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from factories import add_user, bearer
from fixtures_api import LogReader
from video_enhancer.config import Settings
from video_enhancer.logging import JsonFormatter, bind_user_id, job_id_var, redact, request_id_var


def _bound_user() -> str:
    bind_user_id("user-42")  # runs in a worker thread, in a copy of the request's context
    return "user-42"


def _format(record: logging.LogRecord) -> dict[str, Any]:
    result: dict[str, Any] = json.loads(JsonFormatter().format(record))
    return result


# --- redaction -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "secret"),
    [
        (
            '127.0.0.1:5123 - "GET /storage/raw/u/1/source?expires=1700000000&signature=AbC123_- HTTP/1.1"',
            "AbC123_-",
        ),
        (
            "PUT https://storage.googleapis.com/raw/k?X-Goog-Algorithm=GOOG4-RSA-SHA256"
            "&X-Goog-Credential=sa%40p.iam.gserviceaccount.com%2F20260101&X-Goog-Signature=9f8e7d6c5b4a",
            "9f8e7d6c5b4a",
        ),
        ("https://s3.example/b/k?X-Amz-Signature=deadbeefcafe&X-Amz-Date=1", "deadbeefcafe"),
        ("Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl", "c2lnbmF0dXJl"),
        ("Authorization: Basic dXNlcjpodW50ZXIy", "dXNlcjpodW50ZXIy"),
        (
            "headers={'authorization': 'Bearer opaque-token-1234567890', 'accept': '*/*'}",
            "opaque-token-1234567890",
        ),
        ('body={"email": "a@example.com", "password": "correct horse battery"}', "correct horse battery"),
        ('{"password":"with \\"quote\\" inside"}', "inside"),
        ("{'password': 'pythonrepr secret'}", "pythonrepr secret"),
        ('{"refresh_token": "rt-0123456789abcdef"}', "rt-0123456789abcdef"),
        ('{"refreshToken": "rt-0123456789abcdef"}', "rt-0123456789abcdef"),
        ("{'accessToken': 'at-0123456789abcdef'}", "at-0123456789abcdef"),
        ("accessToken=at-0123456789abcdef", "at-0123456789abcdef"),
        ("login failed password=hunter2&next=/", "hunter2"),
        ("VE_JWT_SECRET=0123456789abcdef0123456789abcdef", "0123456789abcdef0123456789abcdef"),
        ("token eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.abc_DEF-123 leaked", "abc_DEF-123"),
    ],
)
def test_redact_hides_secrets(text: str, secret: str) -> None:
    assert secret not in redact(text)
    assert "[REDACTED]" in redact(text)


def test_redact_keeps_harmless_text() -> None:
    text = 'GET /jobs?status=QUEUED&limit=20 token_type=bearer tokens=5 "X-Goog-Credential=sa@p"'
    assert redact(text) == text
    body = '{"tokenType": "bearer", "expiresIn": 3600}'
    assert redact(body) == body


def test_uvicorn_access_record_is_redacted() -> None:
    record = logging.LogRecord(
        "uvicorn.access",
        logging.INFO,
        __file__,
        1,
        '%s - "%s %s HTTP/%s" %d',
        (
            "10.0.0.7:51000",
            "PUT",
            "/storage/raw/users/u/videos/v/source?expires=1&signature=s3cr3tsig",
            "1.1",
            201,
        ),
        None,
    )
    line = _format(record)
    assert "s3cr3tsig" not in json.dumps(line)
    assert line["message"].endswith('?expires=1&signature=[REDACTED] HTTP/1.1" 201')


def test_structured_fields_are_redacted_at_any_depth() -> None:
    record = logging.makeLogRecord(
        {
            "name": "video_enhancer.test",
            "levelname": "INFO",
            "levelno": logging.INFO,
            "msg": "login",
            "password": "top-level-secret",
            "request": {
                "headers": {"Authorization": "Bearer abcdefghijklmnopq"},
                "body": {"password": "nested", "refreshToken": "camel-nested"},
            },
            "url": "https://h/o?X-Goog-Signature=urlsig",
        }
    )
    line = _format(record)
    dumped = json.dumps(line)
    for secret in ("top-level-secret", "abcdefghijklmnopq", "nested", "camel-nested", "urlsig"):
        assert secret not in dumped
    assert line["request"]["body"]["password"] == "[REDACTED]"


def test_exception_text_is_redacted() -> None:
    try:
        raise ValueError("upload to https://h/o?signature=exc-signature failed")
    except ValueError:
        import sys

        record = logging.LogRecord("t", logging.ERROR, __file__, 1, "failed", None, sys.exc_info())
    assert "exc-signature" not in json.dumps(_format(record))


# --- context ids ---------------------------------------------------------------------------------


def test_line_has_timestamp_level_and_ids_from_context() -> None:
    request_token, job_token = request_id_var.set("req-1"), job_id_var.set("job-1")
    try:
        line = _format(
            logging.makeLogRecord({"name": "x", "levelname": "WARNING", "msg": "hello %s", "args": ("w",)})
        )
    finally:
        request_id_var.reset(request_token)
        job_id_var.reset(job_token)
    assert line["message"] == "hello w" and line["level"] == "warning"
    assert line["request_id"] == "req-1" and line["job_id"] == "job-1"
    assert line["timestamp"].endswith("+00:00")


def test_user_bound_in_a_sync_dependency_reaches_endpoint_and_access_logs(
    app: FastAPI, client: TestClient, read_logs: LogReader
) -> None:
    @app.get("/__test__/whoami")
    def whoami(user: Annotated[str, Depends(_bound_user)]) -> dict[str, str]:
        logging.getLogger("video_enhancer.test").info("inside endpoint")
        return {"user": user}

    assert client.get("/__test__/whoami", headers={"X-Request-ID": "trace-me-1"}).status_code == 200
    log_lines = read_logs()
    endpoint = next(line for line in log_lines if line["message"] == "inside endpoint")
    access = next(line for line in log_lines if line.get("route") == "/__test__/whoami")
    assert endpoint["user_id"] == access["user_id"] == "user-42"
    assert endpoint["request_id"] == access["request_id"] == "trace-me-1"


# --- access log ----------------------------------------------------------------------------------


def test_one_access_line_per_request_without_query_secrets(client: TestClient, read_logs: LogReader) -> None:
    response = client.get("/jobs/0d7c5a56-0000-4000-8000-000000000000?signature=leaky&expires=1")
    assert response.status_code == 401
    log_lines = read_logs()
    access = [line for line in log_lines if line["logger"] == "video_enhancer.access"]
    assert len(access) == 1
    line = access[0]
    assert line["event"] == "http_request" and line["method"] == "GET"
    assert line["route"] == "/jobs/{jobId}" and line["status"] == 401
    assert line["path"] == "/jobs/0d7c5a56-0000-4000-8000-000000000000"
    assert isinstance(line["duration_ms"], float) and line["duration_ms"] >= 0
    assert line["request_id"] == response.headers["X-Request-ID"]
    assert "leaky" not in json.dumps(log_lines)


def test_access_line_of_an_authenticated_request_names_the_user(
    client: TestClient, session: Session, settings: Settings, read_logs: LogReader
) -> None:
    user = add_user(session)
    session.commit()
    assert client.get("/jobs", headers=bearer(user, settings)).status_code == 200
    log_lines = read_logs()
    access = next(line for line in log_lines if line.get("route") == "/jobs")
    assert access["user_id"] == str(user.id)
    assert "Bearer" not in json.dumps(log_lines)
