"""`POST /videos/{videoId}/jobs` takes the job's options: `enhancer` and `outputHeight`, checked
against the plan like `POST /videos/upload`, shown resolved on the answer and on the job."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from video_enhancer.models import Job, JobStatus, Plan, User
from video_helpers import new_user, put_upload, ticket

CONTENT = b"0123456789"


def _uploaded(client: TestClient, headers: dict[str, str], **overrides: Any) -> dict[str, Any]:
    upload = ticket(client, headers, sizeBytes=len(CONTENT), autoStart=False, **overrides)
    assert put_upload(client, upload, CONTENT).status_code in (200, 201, 204)
    return upload


def _start(client: TestClient, headers: dict[str, str], upload: dict[str, Any], **body: Any) -> Any:
    url = f"/videos/{upload['videoId']}/jobs"
    return client.post(url, json=body, headers=headers) if body else client.post(url, headers=headers)


def _stored(session: Session, upload: dict[str, Any]) -> tuple[Job, User]:
    session.expire_all()
    job = session.get(Job, uuid.UUID(upload["jobId"]))
    assert job is not None
    user = session.get(User, job.user_id)
    assert user is not None
    session.commit()
    return job, user


def test_start_takes_an_enhancer_and_output_height_and_shows_them_resolved(
    client: TestClient, session: Session
) -> None:
    headers = new_user(client, Plan.CREATOR)
    upload = _uploaded(client, headers)
    assert (upload["enhancer"], upload["outputHeight"]) == ("lanczos", 1080)
    started = _start(client, headers, upload, enhancer="realesr-general-x4v3", outputHeight=480)
    assert started.status_code == 200, started.text
    body = started.json()
    assert (body["status"], body["enhancer"], body["outputHeight"]) == ("QUEUED", "realesr-general-x4v3", 480)
    job = client.get(f"/jobs/{upload['jobId']}", headers=headers).json()
    assert (job["enhancer"], job["outputHeight"]) == ("realesr-general-x4v3", 480)
    stored, _ = _stored(session, upload)
    assert (stored.enhancer, stored.max_output_height) == ("realesr-general-x4v3", 480)


def test_start_without_options_keeps_what_the_upload_resolved(client: TestClient) -> None:
    headers = new_user(client, Plan.CREATOR)
    upload = _uploaded(client, headers, enhancer="realesr-animevideov3", outputHeight=360)
    body = _start(client, headers, upload).json()
    assert (body["status"], body["enhancer"], body["outputHeight"]) == ("QUEUED", "realesr-animevideov3", 360)
    # Only the options given change: the height asked now, the enhancer of the upload.
    other = _uploaded(client, headers, enhancer="realesr-animevideov3", outputHeight=360)
    body = _start(client, headers, other, outputHeight=720).json()
    assert (body["enhancer"], body["outputHeight"]) == ("realesr-animevideov3", 720)


@pytest.mark.parametrize(
    ("asked", "named"),
    [
        ({"enhancer": "realesrgan-x4plus"}, "the CREATOR plan may"),
        ({"enhancer": "stream-diffvsr"}, "the PRO plan may"),
        ({"outputHeight": 1080}, "the CREATOR plan allows it"),
        ({"outputHeight": 2160}, "no plan allows it"),
    ],
)
def test_asking_beyond_the_plan_at_start_is_plan_limit_and_takes_nothing(
    client: TestClient, session: Session, asked: dict[str, Any], named: str
) -> None:
    headers = new_user(client, Plan.FREE)
    upload = _uploaded(client, headers)
    refused = _start(client, headers, upload, **asked)
    assert refused.status_code == 403, refused.text
    error = refused.json()["error"]
    assert error["code"] == "PLAN_LIMIT" and named in error["message"]
    job, user = _stored(session, upload)
    assert (job.status, job.minutes_held, job.holds_video, user.videos_created) == (
        JobStatus.UPLOADED,
        0,
        False,
        0,
    )
    assert (job.enhancer, job.max_output_height) == ("lanczos", 720)
    started = _start(client, headers, upload)  # the FREE video was not used up
    assert started.status_code == 200 and started.json()["status"] == "QUEUED"


@pytest.mark.parametrize(
    "body", [{"enhancer": "bicubic"}, {"outputHeight": 100}, {"output_height": 480}, {"outputHeight": "x"}]
)
def test_malformed_start_options_are_422(client: TestClient, body: dict[str, Any]) -> None:
    headers = new_user(client, Plan.PRO)
    upload = _uploaded(client, headers)
    assert _start(client, headers, upload, **body).status_code == 422
    assert client.get(f"/jobs/{upload['jobId']}", headers=headers).json()["status"] == "UPLOADED"


def test_a_plan_changed_since_the_upload_is_checked_again_at_start(
    client: TestClient, session: Session
) -> None:
    headers = new_user(client, Plan.CREATOR)
    upload = _uploaded(client, headers, enhancer="realesrgan-x4plus")
    _, user = _stored(session, upload)
    user.plan = Plan.FREE
    session.commit()
    refused = _start(client, headers, upload)
    assert refused.status_code == 403
    assert "the CREATOR plan may" in refused.json()["error"]["message"]
    # Another enhancer starts it; the upload's 1080 px (CREATOR's maximum) is held to FREE's 720.
    started = _start(client, headers, upload, enhancer="lanczos")
    assert started.status_code == 200, started.text
    assert (started.json()["enhancer"], started.json()["outputHeight"]) == ("lanczos", 720)


def test_a_started_job_is_returned_as_it_is_whatever_a_repeat_asks(client: TestClient) -> None:
    headers = new_user(client, Plan.CREATOR)
    upload = _uploaded(client, headers)
    first = _start(client, headers, upload, outputHeight=480).json()
    again = _start(client, headers, upload, outputHeight=720, enhancer="realesr-general-x4v3")
    assert again.status_code == 200
    assert (again.json()["enhancer"], again.json()["outputHeight"]) == ("lanczos", 480)
    assert again.json()["queuedAt"] == first["queuedAt"]
