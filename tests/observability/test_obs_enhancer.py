"""The API says which enhancer jobs will get, at start-up and on `/readyz`, before any job runs."""

from __future__ import annotations

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from fixtures_api import LogReader
from video_enhancer.config import Settings


def _enhancer_lines(read_logs: LogReader) -> list[dict[str, object]]:
    return [line for line in read_logs() if line.get("logger") == "video_enhancer.observability.readiness"]


def test_auto_without_weights_warns_at_start_up_and_on_readyz(
    app: FastAPI, settings: Settings, read_logs: LogReader
) -> None:
    with TestClient(app) as client:
        body = client.get("/readyz").json()

    assert body["status"] == "ready"
    assert body["enhancer"] == {
        "name": "lanczos",
        "classical": True,
        "reason": "auto: no model weights configured; set VE_MODEL_PATH or VE_MODEL_ID",
    }
    (line,) = _enhancer_lines(read_logs)
    assert line["level"] == "warning" and "classical lanczos" in str(line["message"])
    assert (line["enhancer"], line["classical"]) == ("lanczos", True)


@pytest.mark.parametrize(
    ("values", "name", "classical"),
    [
        ({"model_id": "org/stream-diffvsr"}, "stream-diffvsr", False),
        ({"enhancer": "lanczos"}, "lanczos", True),
    ],
)
def test_a_configured_enhancer_is_reported_without_a_warning(
    app: FastAPI,
    settings: Settings,
    read_logs: LogReader,
    values: dict[str, str],
    name: str,
    classical: bool,
) -> None:
    for key, value in values.items():
        setattr(settings, key, value)
    with TestClient(app) as client:
        enhancer = client.get("/readyz").json()["enhancer"]

    assert (enhancer["name"], enhancer["classical"]) == (name, classical)
    (line,) = _enhancer_lines(read_logs)
    assert line["level"] == "info" and line["enhancer"] == name
