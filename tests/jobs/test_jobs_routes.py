"""GET /jobs/{id}, GET /jobs and POST /jobs/{id}/cancel."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from video_enhancer.billing.service import minutes_held
from video_enhancer.models import Job, JobStatus, Plan
from video_helpers import new_user, put_upload, ticket


def _set(session: Session, upload: dict[str, Any], **values: Any) -> None:
    job = session.get(Job, uuid.UUID(upload["jobId"]))
    assert job is not None
    for name, value in values.items():
        setattr(job, name, value)
    session.commit()


def _held(session: Session, upload: dict[str, Any]) -> int:
    job = session.get(Job, uuid.UUID(upload["jobId"]))
    assert job is not None
    held = minutes_held(session, job.user_id)
    session.commit()  # end the read: on SQLite an open transaction holds the write lock
    return held


def test_get_job_reports_progress(client: TestClient, session: Session) -> None:
    headers = new_user(client)
    upload = ticket(client, headers)
    _set(
        session,
        upload,
        status=JobStatus.PROCESSING,
        stage="enhancing",
        progress_percent=42.5,
        frames_done=85,
        frames_total=200,
        fps=3.5,
        eta_seconds=33.0,
        enhancer="lanczos",
        attempts=1,
    )
    body = client.get(f"/jobs/{upload['jobId']}", headers=headers).json()
    assert body["id"] == upload["jobId"] and body["videoId"] == upload["videoId"]
    assert (body["status"], body["stage"], body["progressPercent"]) == ("PROCESSING", "enhancing", 42.5)
    assert (body["framesDone"], body["framesTotal"], body["fps"], body["etaSeconds"]) == (85, 200, 3.5, 33.0)
    assert (body["enhancer"], body["attempts"], body["minutesHeld"], body["minutesCharged"]) == (
        "lanczos",
        1,
        1,
        None,
    )
    assert body["errorCode"] is None and body["createdAt"]


def test_list_jobs_filters_by_status_newest_first(client: TestClient, session: Session) -> None:
    headers = new_user(client, Plan.PRO)
    uploads = [ticket(client, headers) for _ in range(4)]
    for upload in uploads[:2]:
        assert put_upload(client, upload, b"x" * 1000).status_code == 200
    everything = client.get("/jobs", headers=headers).json()
    assert everything["total"] == 4
    assert [job["id"] for job in everything["items"]] == [u["jobId"] for u in reversed(uploads)]
    queued = client.get("/jobs?status=QUEUED&limit=1", headers=headers).json()
    assert queued["total"] == 2 and len(queued["items"]) == 1
    assert queued["items"][0]["id"] == uploads[1]["jobId"]
    second = client.get("/jobs?status=QUEUED&limit=1&offset=1", headers=headers).json()
    assert second["items"][0]["id"] == uploads[0]["jobId"]
    assert client.get("/jobs?status=NOPE", headers=headers).status_code == 422


@pytest.mark.parametrize("status", [JobStatus.AWAITING_UPLOAD, JobStatus.UPLOADED, JobStatus.QUEUED])
def test_cancel_a_waiting_job_releases_its_hold(
    client: TestClient, session: Session, status: JobStatus
) -> None:
    headers = new_user(client, Plan.CREATOR)
    upload = ticket(client, headers, durationSeconds=120)
    _set(session, upload, status=status)
    assert _held(session, upload) == 2
    response = client.post(f"/jobs/{upload['jobId']}/cancel", headers=headers)
    assert response.status_code == 200
    assert (response.json()["status"], response.json()["minutesHeld"]) == ("CANCELED", 0)
    assert _held(session, upload) == 0


def test_cancel_a_running_job_asks_it_to_stop(client: TestClient, session: Session) -> None:
    headers = new_user(client)
    upload = ticket(client, headers)
    _set(session, upload, status=JobStatus.PROCESSING)
    response = client.post(f"/jobs/{upload['jobId']}/cancel", headers=headers)
    assert response.status_code == 200
    assert (response.json()["status"], response.json()["cancelRequested"]) == ("PROCESSING", True)


@pytest.mark.parametrize("status", [JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.CANCELED])
def test_cancel_a_finished_job_is_409(client: TestClient, session: Session, status: JobStatus) -> None:
    headers = new_user(client)
    upload = ticket(client, headers)
    _set(session, upload, status=status)
    response = client.post(f"/jobs/{upload['jobId']}/cancel", headers=headers)
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "INVALID_STATE"


def test_unknown_job_is_404(client: TestClient) -> None:
    response = client.get(f"/jobs/{uuid.uuid4()}", headers=new_user(client))
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "NOT_FOUND"
