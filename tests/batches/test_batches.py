"""POST /batches (all or none), GET /batches/{batchId} (aggregate status, progress by frames)."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from factories import add_job, add_user
from video_enhancer.batches.service import progress_percent
from video_enhancer.batches.status import aggregate_status
from video_enhancer.models import Job, JobStatus, Plan, Video
from video_helpers import new_user, upload_body

S = JobStatus


def _videos(count: int, **overrides: Any) -> dict[str, Any]:
    return {"videos": [upload_body(filename=f"clip-{n}.mp4", **overrides) for n in range(count)]}


def test_a_batch_gives_one_ticket_per_video_and_reads_back_as_queued(client: TestClient) -> None:
    headers = new_user(client, Plan.PRO)
    response = client.post("/batches", json=_videos(3, enhancer="realesr-general-x4v3"), headers=headers)
    assert response.status_code == 201, response.text
    body = response.json()
    assert len(body["videos"]) == 3 and all(t["enhancer"] == "realesr-general-x4v3" for t in body["videos"])
    batch = client.get(f"/batches/{body['batchId']}", headers=headers).json()
    assert batch["status"] == "QUEUED" and batch["progressPercent"] == 0.0
    assert [v["jobId"] for v in batch["videos"]] == [t["jobId"] for t in body["videos"]]
    assert batch["minutesHeld"] == 3 and batch["minutesCharged"] == 0  # 12.5 s each: 1 minute held
    listed = client.get("/batches", headers=headers).json()["items"]
    assert [item["id"] for item in listed] == [body["batchId"]]


def test_a_batch_that_does_not_fit_the_plan_leaves_nothing_behind(client: TestClient) -> None:
    headers = new_user(client, Plan.CREATOR)  # 30 minutes a cycle
    response = client.post("/batches", json=_videos(4, durationSeconds=110), headers=headers)  # 4 x 2 min
    assert response.status_code == 201, response.text
    too_many = client.post("/batches", json=_videos(12, durationSeconds=110), headers=headers)  # 24 more
    assert too_many.status_code == 403 and too_many.json()["error"]["code"] == "QUOTA_EXCEEDED"
    assert client.get("/videos", headers=headers).json()["total"] == 4
    assert len(client.get("/batches", headers=headers).json()["items"]) == 1


@pytest.mark.parametrize(
    ("body", "status"), [({"videos": []}, 422), (_videos(21), 400), (_videos(1, sizeBytes=-1), 422)]
)
def test_malformed_or_oversized_batches_are_refused(client: TestClient, body: Any, status: int) -> None:
    assert client.post("/batches", json=body, headers=new_user(client, Plan.PRO)).status_code == status


def test_another_users_batch_is_not_found(client: TestClient) -> None:
    owner = new_user(client, Plan.PRO)
    batch_id = client.post("/batches", json=_videos(1), headers=owner).json()["batchId"]
    assert client.get(f"/batches/{batch_id}", headers=new_user(client, Plan.PRO)).status_code == 404
    assert client.get(f"/batches/{uuid.uuid4()}", headers=owner).status_code == 404


@pytest.mark.parametrize(
    ("statuses", "expected"),
    [
        ([S.AWAITING_UPLOAD, S.COMPLETED], "QUEUED"),
        ([S.QUEUED, S.PROCESSING, S.FAILED], "PROCESSING"),
        ([S.COMPLETED, S.COMPLETED], "COMPLETED"),
        ([S.COMPLETED, S.FAILED], "PARTIAL"),
        ([S.COMPLETED, S.CANCELED], "PARTIAL"),
        ([S.FAILED, S.CANCELED], "FAILED"),
        ([S.CANCELED, S.CANCELED], "CANCELED"),
    ],
)
def test_aggregate_status(statuses: list[JobStatus], expected: str) -> None:
    assert aggregate_status(statuses) == expected


def test_progress_counts_frames_not_videos(session_factory: sessionmaker[Session]) -> None:
    with session_factory() as session:
        user = add_user(session)
        long_job = add_job(session, user, S.PROCESSING)
        short_job = add_job(session, user, S.COMPLETED)
        long_job.frames_done, long_job.frames_total = 300, 900
        short_job.frames_done, short_job.frames_total = 100, 100
        # one of two videos done, but 400 of 1000 frames
        assert progress_percent([long_job, short_job]) == 40.0
        assert session.get(Video, long_job.video_id) is not None and isinstance(long_job, Job)


def test_batch_completed_is_appended_once_when_the_last_job_is_final(
    client: TestClient, session_factory: sessionmaker[Session]
) -> None:
    from sqlalchemy import select

    from video_enhancer.models import JobEvent

    headers = new_user(client, Plan.PRO)
    tickets = client.post("/batches", json=_videos(2), headers=headers).json()

    def batch_events() -> list[JobEvent]:
        with session_factory() as session:
            return list(session.scalars(select(JobEvent).where(JobEvent.type == "batch.completed")))

    first, second = (ticket["jobId"] for ticket in tickets["videos"])
    assert client.post(f"/jobs/{first}/cancel", headers=headers).status_code == 200
    assert batch_events() == []
    assert client.post(f"/jobs/{second}/cancel", headers=headers).status_code == 200
    events = batch_events()
    assert len(events) == 1
    assert events[0].data == {
        "batchId": tickets["batchId"],
        "status": "CANCELED",
        "videos": 2,
        "completed": 0,
    }
    assert client.get(f"/batches/{tickets['batchId']}", headers=headers).json()["status"] == "CANCELED"
