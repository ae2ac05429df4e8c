"""POST /videos/{id}/upload-url: a fresh upload URL while the video still awaits its bytes."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

from fastapi.testclient import TestClient
from sqlalchemy import update

from helpers import session_factory_of
from video_enhancer.models import Plan, Video
from video_helpers import new_user, put_upload, ticket


def test_a_fresh_url_uploads_the_video(client: TestClient) -> None:
    headers = new_user(client)
    first = ticket(client, headers, sizeBytes=8)
    response = client.post(f"/videos/{first['videoId']}/upload-url", headers=headers)
    assert response.status_code == 200, response.text
    fresh = response.json()
    assert (fresh["videoId"], fresh["jobId"]) == (first["videoId"], first["jobId"])
    assert fresh["uploadProtocol"] == "single"
    assert (
        parse_qs(urlsplit(fresh["uploadUrl"]).query)["key"]
        == parse_qs(urlsplit(first["uploadUrl"]).query)["key"]
    )
    uploaded = put_upload(client, fresh, b"12345678")
    assert uploaded.status_code == 200 and uploaded.json()["jobStatus"] == "QUEUED"
    again = client.post(f"/videos/{first['videoId']}/upload-url", headers=headers)
    assert again.status_code == 409 and again.json()["error"]["code"] == "INVALID_STATE"


def test_the_url_never_outlives_the_upload_deadline(client: TestClient) -> None:
    headers = new_user(client)
    upload = ticket(client, headers)
    deadline = datetime.now(UTC) + timedelta(minutes=5)
    with session_factory_of(client).begin() as session:
        session.execute(
            update(Video).where(Video.id == uuid.UUID(upload["videoId"])).values(upload_expires_at=deadline)
        )
    fresh = client.post(f"/videos/{upload['videoId']}/upload-url", headers=headers).json()
    assert datetime.fromisoformat(fresh["uploadExpiresAt"]) <= deadline + timedelta(seconds=1)
    with session_factory_of(client).begin() as session:
        past = datetime.now(UTC) - timedelta(seconds=5)
        session.execute(
            update(Video).where(Video.id == uuid.UUID(upload["videoId"])).values(upload_expires_at=past)
        )
    ended = client.post(f"/videos/{upload['videoId']}/upload-url", headers=headers)
    assert ended.status_code == 409 and ended.json()["error"]["code"] == "INVALID_STATE"


def test_another_users_video_is_404(client: TestClient) -> None:
    upload = ticket(client, new_user(client))
    stranger = new_user(client, Plan.CREATOR)
    response = client.post(f"/videos/{upload['videoId']}/upload-url", headers=stranger)
    assert response.status_code == 404 and response.json()["error"]["code"] == "NOT_FOUND"
    assert client.post(f"/videos/{uuid.uuid4()}/upload-url", headers=stranger).status_code == 404


def test_a_canceled_video_gets_no_url(client: TestClient) -> None:
    headers = new_user(client)
    upload = ticket(client, headers)
    assert client.post(f"/jobs/{upload['jobId']}/cancel", headers=headers).status_code == 200
    response = client.post(f"/videos/{upload['videoId']}/upload-url", headers=headers)
    assert response.status_code == 409 and response.json()["error"]["code"] == "INVALID_STATE"
