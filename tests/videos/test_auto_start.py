"""autoStart false: the upload waits UPLOADED holding nothing; POST /videos/{videoId}/jobs starts it."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from video_enhancer.models import Job, JobEvent, Plan, User
from video_helpers import new_user, put_upload, ticket

CONTENT = b"0123456789"


def _uploaded(client: TestClient, headers: dict[str, str], **overrides: Any) -> dict[str, Any]:
    upload = ticket(client, headers, sizeBytes=len(CONTENT), autoStart=False, **overrides)
    assert put_upload(client, upload, CONTENT).status_code in (200, 201, 204)
    return upload


def _job(client: TestClient, headers: dict[str, str], upload: dict[str, Any]) -> dict[str, Any]:
    response = client.get(f"/jobs/{upload['jobId']}", headers=headers)
    assert response.status_code == 200
    body: dict[str, Any] = response.json()
    return body


def _event_types(session: Session, job_id: str) -> list[str]:
    query = select(JobEvent.type).where(JobEvent.job_id == uuid.UUID(job_id)).order_by(JobEvent.seq)
    types = list(session.scalars(query))
    session.commit()
    return types


def _videos_created(session: Session, upload: dict[str, Any]) -> int:
    job = session.get(Job, uuid.UUID(upload["jobId"]))
    assert job is not None
    user = session.get(User, job.user_id)
    assert user is not None
    session.refresh(user)
    session.commit()
    return user.videos_created


def test_upload_without_auto_start_waits_uploaded_holding_nothing(
    client: TestClient, session: Session
) -> None:
    headers = new_user(client, Plan.FREE)
    upload = _uploaded(client, headers)
    job = _job(client, headers, upload)
    assert job["status"] == "UPLOADED" and job["minutesHeld"] == 0 and job["queuedAt"] is None
    assert _event_types(session, upload["jobId"]) == ["video.uploaded"]
    assert _videos_created(session, upload) == 0
    again = client.post(f"/videos/{upload['videoId']}/complete", headers=headers)
    assert again.status_code == 200 and again.json()["status"] == "UPLOADED"


def test_start_checks_the_plan_places_the_hold_and_queues_once(client: TestClient, session: Session) -> None:
    headers = new_user(client, Plan.FREE)
    upload = _uploaded(client, headers)
    started = client.post(f"/videos/{upload['videoId']}/jobs", headers=headers)
    assert started.status_code == 200, started.text
    body = started.json()
    assert body["id"] == upload["jobId"] and body["status"] == "QUEUED" and body["minutesHeld"] == 1
    assert _videos_created(session, upload) == 1
    assert _event_types(session, upload["jobId"]) == ["video.uploaded", "job.queued"]
    again = client.post(f"/videos/{upload['videoId']}/jobs", headers=headers).json()
    assert again["queuedAt"] == body["queuedAt"]
    assert _event_types(session, upload["jobId"]) == ["video.uploaded", "job.queued"]


def test_free_video_used_up_can_upload_but_not_start(client: TestClient, session: Session) -> None:
    headers = new_user(client, Plan.FREE)
    ticket(client, headers)  # the FREE plan's one video, auto-started
    upload = _uploaded(client, headers)
    refused = client.post(f"/videos/{upload['videoId']}/jobs", headers=headers)
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "QUOTA_EXCEEDED"
    assert _job(client, headers, upload)["status"] == "UPLOADED"
    assert _videos_created(session, upload) == 1
    # Deleting the unstarted video gives back nothing it never took.
    assert client.delete(f"/videos/{upload['videoId']}", headers=headers).status_code == 204
    assert _videos_created(session, upload) == 1


def test_start_before_the_upload_is_409_and_of_another_user_404(client: TestClient) -> None:
    headers = new_user(client, Plan.CREATOR)
    upload = ticket(client, headers, autoStart=False)
    early = client.post(f"/videos/{upload['videoId']}/jobs", headers=headers)
    assert early.status_code == 409 and early.json()["error"]["code"] == "INVALID_STATE"
    stranger = new_user(client, Plan.CREATOR)
    assert client.post(f"/videos/{upload['videoId']}/jobs", headers=stranger).status_code == 404
    missing = client.post(f"/videos/{uuid.uuid4()}/jobs", headers=headers)
    assert missing.status_code == 404


def test_auto_start_still_holds_at_upload(client: TestClient) -> None:
    headers = new_user(client, Plan.CREATOR)
    upload = ticket(client, headers, sizeBytes=len(CONTENT))
    assert _job(client, headers, upload)["minutesHeld"] == 1
    assert put_upload(client, upload, CONTENT).status_code in (200, 201, 204)
    assert _job(client, headers, upload)["status"] == "QUEUED"
