"""A FREE account's one lifetime video counts only once a job completes.

A job canceled (before or after its upload), failed or expired gives the video back, and the
ticket stays race-free: however many requests arrive at once, exactly one gets it.
"""

from __future__ import annotations

import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

from fastapi.testclient import TestClient

from helpers import session_factory_of
from video_enhancer.jobs.lifecycle import claim_job_by_id, complete_job, enqueue_job, fail_job
from video_enhancer.models import Job, User, utcnow
from video_enhancer.queue.database import ClaimedJob, CompletedOutput
from video_enhancer.storage.factory import make_storage
from video_enhancer.videos.service import expire_stale_uploads
from video_helpers import new_user, request_upload, ticket

PARALLEL = 30


def _job_id(upload: dict[str, str]) -> uuid.UUID:
    return uuid.UUID(upload["jobId"])


def _videos_created(client: TestClient, job_id: uuid.UUID) -> int:
    with session_factory_of(client)() as session:
        job = session.get(Job, job_id)
        assert job is not None
        user = session.get(User, job.user_id)
        assert user is not None
        return user.videos_created


def _claim(client: TestClient, job_id: uuid.UUID) -> ClaimedJob:
    factory = session_factory_of(client)
    with factory.begin() as session:
        job = session.get(Job, job_id)
        assert job is not None
        enqueue_job(session, job, client.app.state.settings)  # type: ignore[attr-defined]
    claimed = claim_job_by_id(factory, job_id, "worker", 60)
    assert claimed is not None
    return claimed


def test_cancel_before_upload_gives_the_video_back(client: TestClient) -> None:
    headers = new_user(client)
    first = ticket(client, headers)
    assert request_upload(client, headers).status_code == 403
    assert client.post(f"/jobs/{first['jobId']}/cancel", headers=headers).status_code == 200
    assert _videos_created(client, _job_id(first)) == 0
    assert request_upload(client, headers).status_code == 201


def test_a_failed_job_gives_the_video_back_and_a_completed_one_keeps_it(client: TestClient) -> None:
    headers = new_user(client)
    first = ticket(client, headers)
    assert fail_job(session_factory_of(client), _claim(client, _job_id(first)), "BROKEN", "bad")
    second = ticket(client, headers)
    output = CompletedOutput(10.0, "users/x/out.mp4", "64x64", 10, "lanczos")
    assert complete_job(session_factory_of(client), _claim(client, _job_id(second)), output) == 1
    assert _videos_created(client, _job_id(second)) == 1
    assert request_upload(client, headers).status_code == 403
    assert client.delete(f"/videos/{second['videoId']}", headers=headers).status_code == 204
    assert request_upload(client, headers).status_code == 403  # deleting a completed one keeps it


def test_an_expired_upload_gives_the_video_back(client: TestClient) -> None:
    headers = new_user(client)
    first = ticket(client, headers)
    settings = client.app.state.settings  # type: ignore[attr-defined]
    with session_factory_of(client).begin() as session:
        later = utcnow() + timedelta(seconds=settings.upload_expiry_seconds + 60)
        assert expire_stale_uploads(session, settings, later, make_storage(settings)) == 1
    assert _videos_created(client, _job_id(first)) == 0
    assert request_upload(client, headers).status_code == 201


def test_a_given_back_video_is_still_taken_exactly_once(client: TestClient) -> None:
    headers = new_user(client)
    first = ticket(client, headers)
    assert client.post(f"/jobs/{first['jobId']}/cancel", headers=headers).status_code == 200
    barrier = threading.Barrier(PARALLEL)

    def one(_: int) -> int:
        barrier.wait()
        return request_upload(client, headers).status_code

    with ThreadPoolExecutor(max_workers=PARALLEL) as pool:
        statuses = list(pool.map(one, range(PARALLEL)))
    assert sorted(statuses) == [201] + [403] * (PARALLEL - 1)
    assert _videos_created(client, _job_id(first)) == 1
