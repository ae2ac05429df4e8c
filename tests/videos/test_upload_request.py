"""POST /videos/upload: plan checks, the quota hold, and the rows it writes."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from helpers import register_user, update_user
from video_enhancer.billing.service import usage_for
from video_enhancer.models import Job, JobStatus, Plan, User, Video
from video_enhancer.observability.metrics import QUOTA_REJECTIONS
from video_helpers import new_user, request_upload, ticket


def _rejections(plan: str, reason: str) -> float:
    return QUOTA_REJECTIONS.labels(plan=plan, reason=reason)._value.get()


def test_upload_request_creates_video_job_and_hold(client: TestClient, session: Session) -> None:
    headers = register_user(client, "creator@example.com", plan=Plan.CREATOR)
    response = request_upload(
        client,
        {**headers, "X-Request-ID": "req-upload-1"},
        durationSeconds=61,
        sizeBytes=5000,
        filename="../../Holiday.MOV",
        contentType="video/QuickTime",
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["uploadMethod"] == "PUT"
    assert body["uploadHeaders"] == {"Content-Type": "video/quicktime"}
    expires_at = datetime.fromisoformat(body["uploadExpiresAt"])
    assert timedelta(minutes=55) < expires_at - datetime.now(UTC) <= timedelta(hours=1)
    query = parse_qs(urlsplit(body["uploadUrl"]).query)
    assert query["size"] == ["5000"] and query["contentType"] == ["video/quicktime"]

    video = session.get(Video, uuid.UUID(body["videoId"]))
    job = session.get(Job, uuid.UUID(body["jobId"]))
    assert video is not None and job is not None
    assert video.storage_path == f"users/{video.user_id}/videos/{video.id}/source.mov"
    assert query["key"] == [video.storage_path]
    assert video.original_filename == "Holiday.MOV"
    assert video.upload_expires_at is not None and video.upload_expires_at > datetime.now(UTC) + timedelta(
        hours=23
    )
    assert job.status == JobStatus.AWAITING_UPLOAD
    assert (job.minutes_held, job.priority, job.max_duration_seconds, job.max_output_height) == (
        2,
        1,
        120,
        1080,
    )
    assert job.max_attempts == 3 and job.request_id == "req-upload-1"
    user = session.get(User, video.user_id)
    assert user is not None and user.videos_created == 1
    assert usage_for(session, user).minutes_held == 2


@pytest.mark.parametrize(
    "content_type", ["image/png", "application/octet-stream", "video/x-flv", "text/plain"]
)
def test_unsupported_content_type_is_400(client: TestClient, content_type: str) -> None:
    response = request_upload(client, new_user(client), contentType=content_type)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "UNSUPPORTED_MEDIA_TYPE"


def test_free_plan_allows_one_video_in_a_lifetime(client: TestClient) -> None:
    headers = new_user(client)
    before = _rejections("FREE", "lifetime_videos")
    ticket(client, headers)
    response = request_upload(client, headers)
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "QUOTA_EXCEEDED"
    assert _rejections("FREE", "lifetime_videos") == before + 1


def test_deleting_the_free_video_before_processing_gives_it_back(client: TestClient) -> None:
    # Its job is canceled, and a canceled job gives the video back (a completed one keeps it:
    # tests/billing/test_free_video_ticket.py).
    headers = new_user(client)
    first = ticket(client, headers)
    assert client.delete(f"/videos/{first['videoId']}", headers=headers).status_code == 204
    assert request_upload(client, headers).status_code == 201
    assert request_upload(client, headers).json()["error"]["code"] == "QUOTA_EXCEEDED"


@pytest.mark.parametrize(("plan", "limit"), [(Plan.FREE, 30), (Plan.CREATOR, 120), (Plan.PRO, 300)])
def test_duration_over_the_plan_is_refused(client: TestClient, plan: Plan, limit: int) -> None:
    headers = new_user(client, plan)
    response = request_upload(client, headers, durationSeconds=limit + 0.5)
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "DURATION_EXCEEDED"
    assert request_upload(client, headers, durationSeconds=limit).status_code == 201


def test_remaining_minutes_count_used_minutes_and_holds(client: TestClient) -> None:
    headers = register_user(client, "minutes@example.com", plan=Plan.CREATOR)
    update_user(client, "minutes@example.com", minutes_used_this_month=26)
    ticket(client, headers, durationSeconds=120)  # 2 minutes held: 2 of 30 remain
    response = request_upload(client, headers, durationSeconds=121 - 60)  # needs 2 minutes: fits exactly
    assert response.status_code == 201
    response = request_upload(client, headers, durationSeconds=1)
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "QUOTA_EXCEEDED"


def test_a_new_cycle_gives_the_minutes_back(client: TestClient) -> None:
    headers = register_user(client, "cycle@example.com", plan=Plan.CREATOR)
    update_user(
        client,
        "cycle@example.com",
        minutes_used_this_month=30,
        billing_cycle_start=datetime.now(UTC) - timedelta(days=31),
    )
    assert request_upload(client, headers, durationSeconds=60).status_code == 201


@pytest.mark.parametrize(("plan", "limit"), [(Plan.FREE, 1024**3), (Plan.CREATOR, 2 * 1024**3)])
def test_upload_larger_than_the_plan_is_413(client: TestClient, plan: Plan, limit: int) -> None:
    response = request_upload(client, new_user(client, plan), sizeBytes=limit + 1)
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "UPLOAD_TOO_LARGE"


@pytest.mark.parametrize(
    "body",
    [
        {"sizeBytes": 0},
        {"sizeBytes": -5},
        {"durationSeconds": 0},
        {"durationSeconds": -1},
        {"filename": ""},
        {"contentType": None},
    ],
)
def test_malformed_requests_are_422(client: TestClient, body: dict[str, object]) -> None:
    response = request_upload(client, new_user(client), **body)
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "VALIDATION_ERROR"


def test_upload_request_needs_a_token(client: TestClient) -> None:
    response = request_upload(client, {})
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "NOT_AUTHENTICATED"
