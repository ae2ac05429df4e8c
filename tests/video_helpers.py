"""Helpers for the videos, jobs and storage API tests: request an upload, send its bytes."""

from __future__ import annotations

import uuid
from typing import Any
from urllib.parse import urlsplit

import httpx
from fastapi.testclient import TestClient

from helpers import register_user
from video_enhancer.models import Plan


def new_user(client: TestClient, plan: Plan = Plan.FREE) -> dict[str, str]:
    """A freshly registered user on `plan`; returns its Authorization headers."""
    return register_user(client, f"user-{uuid.uuid4().hex[:10]}@example.com", plan=plan)


def upload_body(**overrides: Any) -> dict[str, Any]:
    body = {"filename": "clip.mp4", "contentType": "video/mp4", "sizeBytes": 1000, "durationSeconds": 12.5}
    body.update(overrides)
    return body


def request_upload(client: TestClient, headers: dict[str, str], **overrides: Any) -> httpx.Response:
    return client.post("/videos/upload", json=upload_body(**overrides), headers=headers)


def ticket(client: TestClient, headers: dict[str, str], **overrides: Any) -> dict[str, Any]:
    response = request_upload(client, headers, **overrides)
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result


def local_path(url: str) -> str:
    """The path and query of a signed URL, for the test client (which serves http://testserver)."""
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}"


def put_upload(client: TestClient, upload: dict[str, Any], content: bytes, **headers: str) -> httpx.Response:
    sent = {**upload["uploadHeaders"], **headers}
    return client.put(local_path(upload["uploadUrl"]), content=content, headers=sent)
