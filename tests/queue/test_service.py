from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from factories import make_job, make_user
from video_enhancer.billing.service import minutes_held
from video_enhancer.config import Settings
from video_enhancer.errors import InvalidState
from video_enhancer.jobs.lifecycle import enqueue_job, request_cancel
from video_enhancer.models import JobStatus, OutboxMessage, Plan
from video_enhancer.queue.service import queue_rank


def test_enqueue_sets_rank_and_status(session: Session, settings: Settings) -> None:
    user = make_user(session, Plan.CREATOR)
    job = make_job(session, user)
    enqueue_job(session, job, settings)
    session.commit()
    assert job.status == JobStatus.QUEUED
    assert job.queued_at is not None
    assert job.queue_rank == pytest.approx(job.queued_at.timestamp() - 1 * settings.queue_aging_seconds)
    enqueue_job(session, job, settings)  # idempotent
    assert job.status == JobStatus.QUEUED


def test_enqueue_refuses_finished_job(session: Session, settings: Settings) -> None:
    job = make_job(session, make_user(session), status=JobStatus.COMPLETED)
    with pytest.raises(InvalidState):
        enqueue_job(session, job, settings)


def test_enqueue_with_pubsub_writes_outbox(session: Session, settings: Settings) -> None:
    job = make_job(session, make_user(session))
    enqueue_job(session, job, settings.model_copy(update={"queue": "pubsub"}))
    session.commit()
    message = session.scalars(select(OutboxMessage)).one()
    assert message.topic == settings.pubsub_topic
    assert message.payload["jobId"] == str(job.id)
    assert message.payload["inputPath"].endswith("source.mp4")
    assert message.payload["priority"] == job.priority


def test_queue_rank_orders_priority_with_bounded_jump(settings: Settings) -> None:
    from datetime import timedelta

    from video_enhancer.models import utcnow

    t0 = utcnow()
    free_early = queue_rank(t0, 0, 600)
    pro_late = queue_rank(t0 + timedelta(seconds=1199), 2, 600)
    pro_too_late = queue_rank(t0 + timedelta(seconds=1201), 2, 600)
    assert pro_late < free_early < pro_too_late


@pytest.mark.parametrize("status", [JobStatus.AWAITING_UPLOAD, JobStatus.UPLOADED, JobStatus.QUEUED])
def test_cancel_waiting_job_releases_hold(session: Session, settings: Settings, status: JobStatus) -> None:
    user = make_user(session)
    job = make_job(session, user, status=status, minutes_held=2)
    session.commit()
    assert minutes_held(session, user.id) == 2
    request_cancel(session, job)
    session.commit()
    assert job.status == JobStatus.CANCELED
    assert job.minutes_held == 0
    assert minutes_held(session, user.id) == 0
    request_cancel(session, job)  # canceling twice is harmless
    assert job.status == JobStatus.CANCELED


def test_cancel_running_job_sets_flag(session: Session) -> None:
    user = make_user(session)
    job = make_job(session, user, status=JobStatus.PROCESSING, minutes_held=2)
    session.commit()
    request_cancel(session, job)
    session.commit()
    assert job.status == JobStatus.PROCESSING
    assert job.cancel_requested is True
    assert minutes_held(session, user.id) == 2  # held until the worker acknowledges


@pytest.mark.parametrize("status", [JobStatus.COMPLETED, JobStatus.FAILED])
def test_cancel_finished_job_is_refused(session: Session, status: JobStatus) -> None:
    job = make_job(session, make_user(session), status=status)
    session.commit()
    with pytest.raises(InvalidState):
        request_cancel(session, job)
