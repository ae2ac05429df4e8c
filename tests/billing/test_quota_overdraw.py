"""Uploads that lie about their duration can never push usage past the plan, however many at once.

Each round: a CREATOR user (30 minutes) takes 30 tickets claiming 1 s (1 minute held each, the
whole allowance), the jobs are queued, and as many threads as jobs run the worker's real steps
concurrently: claim, hold the measured minutes (a random, mostly much longer, duration), then
complete and charge, or fail with QUOTA_EXCEEDED. A monitor samples used + held meanwhile.
"""

from __future__ import annotations

import random
import threading
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from factories import make_user
from video_enhancer.billing.plans import limits_for
from video_enhancer.billing.service import minutes_held
from video_enhancer.config import Settings
from video_enhancer.jobs.lifecycle import (
    QUOTA_EXCEEDED,
    MinutesHold,
    claim_next_job,
    complete_job,
    enqueue_job,
    fail_job,
    hold_measured_minutes,
)
from video_enhancer.models import Job, JobStatus, Plan, UsageEntry, User
from video_enhancer.queue.database import CompletedOutput
from video_enhancer.storage.factory import make_storage
from video_enhancer.videos.schemas import UploadRequest
from video_enhancer.videos.service import create_upload

Factory = sessionmaker[Session]
TICKETS = 30
ROUNDS = 3
PLAN_MINUTES = limits_for(Plan.CREATOR).minutes_per_cycle or 0


def _lying_tickets(factory: Factory, settings: Settings) -> uuid.UUID:
    storage = make_storage(settings)
    with factory() as session:
        user_id = make_user(session, Plan.CREATOR).id
        session.commit()
    request = UploadRequest.model_validate(
        {"filename": "clip.mp4", "contentType": "video/mp4", "sizeBytes": 1000, "durationSeconds": 1}
    )
    for _ in range(TICKETS):
        with factory() as session:
            grant = create_upload(session, user_id, request, storage, settings)
            enqueue_job(session, grant.job, settings)
            session.commit()
    return user_id


def _ratio(factory: Factory, user_id: uuid.UUID) -> float:
    with factory() as session:
        user = session.get(User, user_id)
        assert user is not None
        return (user.minutes_used_this_month + minutes_held(session, user_id)) / PLAN_MINUTES


def _work_one(factory: Factory, measured: float, start: threading.Barrier) -> None:
    start.wait()
    claimed = claim_next_job(factory, f"worker-{threading.get_ident()}", 60)
    assert claimed is not None
    held = hold_measured_minutes(factory, claimed, measured)
    if held == MinutesHold.HELD:
        output = CompletedOutput(measured, "users/x/out.mp4", "64x64", 10, "lanczos")
        assert complete_job(factory, claimed, output) is not None
    else:
        assert held == MinutesHold.OVER_QUOTA
        assert fail_job(factory, claimed, QUOTA_EXCEEDED, "too long")


@pytest.fixture
def monitor(session_factory: Factory) -> Iterator[tuple[list[uuid.UUID], list[float]]]:
    """Samples the watched users' (used + held) / plan until the test ends."""
    watched: list[uuid.UUID] = []
    ratios: list[float] = []
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            ratios.extend(_ratio(session_factory, user_id) for user_id in list(watched))
            stop.wait(0.005)

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    yield watched, ratios
    stop.set()
    thread.join()


def _check_settled(factory: Factory, user_id: uuid.UUID) -> None:
    with factory() as session:
        user = session.get(User, user_id)
        assert user is not None
        jobs = session.scalars(select(Job).where(Job.user_id == user_id)).all()
        charged = session.scalar(select(func.sum(UsageEntry.minutes)).where(UsageEntry.user_id == user_id))
        assert {job.status for job in jobs} <= {JobStatus.COMPLETED, JobStatus.FAILED}
        assert user.minutes_used_this_month == int(charged or 0) <= PLAN_MINUTES
        for job in jobs:
            if job.status == JobStatus.FAILED:
                assert (job.error_code, job.minutes_charged, job.minutes_held) == (QUOTA_EXCEEDED, None, 0)


def test_concurrent_lying_uploads_never_overdraw(
    session_factory: Factory, settings: Settings, monitor: tuple[list[uuid.UUID], list[float]]
) -> None:
    watched, ratios = monitor
    rng = random.Random(12)
    for _ in range(ROUNDS):
        user_id = _lying_tickets(session_factory, settings)
        watched.append(user_id)
        measured = [
            rng.choice([1.0, 59.0, 61.0, 119.0, 121.0, 300.0, rng.uniform(1, 400)]) for _ in range(TICKETS)
        ]
        start = threading.Barrier(TICKETS)
        with ThreadPoolExecutor(max_workers=TICKETS) as pool:
            list(pool.map(lambda seconds: _work_one(session_factory, seconds, start), measured))
        ratios.append(_ratio(session_factory, user_id))
        _check_settled(session_factory, user_id)
    largest = max(ratios)
    print(f"largest (used + held) / plan over {len(ratios)} samples: {largest:.3f}")
    assert 0 < largest <= 1.0
