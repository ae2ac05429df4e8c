"""Queue position and estimated start, in GET /jobs/{id} and in job.queued events."""

from __future__ import annotations

import contextvars
import uuid
from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from factories import add_job
from helpers import register_user
from video_enhancer.config import get_settings
from video_enhancer.events.service import ESTIMATE_SAMPLE, estimated_start, queue_position
from video_enhancer.jobs.service import poll_query, polled_job
from video_enhancer.models import Job, JobStatus, User, utcnow


def _job(session: Session, user: User, status: JobStatus, rank: float | None = None, **values: object) -> Job:
    return add_job(session, user, status, queue_rank=rank, **values)


def test_position_counts_the_jobs_ahead_and_the_estimate_uses_recent_jobs(session: Session) -> None:
    user = User(email="queue@example.com", password_hash="not-a-real-hash")
    session.add(user)
    session.flush()
    now = utcnow()
    first = _job(session, user, JobStatus.QUEUED, 10.0)
    second = _job(session, user, JobStatus.QUEUED, 20.0)
    third = _job(session, user, JobStatus.QUEUED, 30.0)
    assert [queue_position(session, job) for job in (first, second, third)] == [1, 2, 3]
    assert estimated_start(session, third, now) is None  # no history yet

    for _ in range(2):  # recent jobs took 60 s each
        _job(
            session,
            user,
            JobStatus.COMPLETED,
            started_at=now - timedelta(seconds=100),
            completed_at=now - timedelta(seconds=40),
        )
    _job(session, user, JobStatus.PROCESSING, lease_owner="worker-1")
    # One busy worker: the running job is half done (30 s), then the two ahead take 60 s each.
    assert estimated_start(session, third, now) == now + timedelta(seconds=30 + 2 * 60)
    assert queue_position(session, _job(session, user, JobStatus.PROCESSING)) is None


def test_get_job_shows_the_queue_position(client: TestClient) -> None:
    headers = register_user(client, f"pos-{uuid.uuid4().hex[:8]}@example.com")
    factory = client.app.state.session_factory  # type: ignore[attr-defined]
    with factory.begin() as session:
        user = session.scalars(select(User).order_by(User.created_at.desc())).first()
        assert user is not None
        other = User(email=f"other-{uuid.uuid4().hex[:8]}@example.com", password_hash="not-a-real-hash")
        session.add(other)
        session.flush()
        _job(session, other, JobStatus.QUEUED, 1.0)
        job_id = _job(session, user, JobStatus.QUEUED, 2.0).id
    body = client.get(f"/jobs/{job_id}", headers=headers).json()
    assert body["queuePosition"] == 2
    assert body["estimatedStartAt"] is None


def test_the_polled_estimate_is_the_events_estimate_to_the_millisecond(session: Session) -> None:
    """`GET /jobs/{jobId}` averages recent job lengths inside its one statement (julianday on
    SQLite, EXTRACT(EPOCH) on PostgreSQL); it must agree with the events' Python average, over
    more history than the sample holds and with lengths that are not whole seconds."""
    user = User(email="estimate@example.com", password_hash="not-a-real-hash")
    session.add(user)
    session.flush()
    now = utcnow().replace(microsecond=0)
    waiting = _job(session, user, JobStatus.QUEUED, 30.0)
    _job(session, user, JobStatus.QUEUED, 10.0)
    for index in range(ESTIMATE_SAMPLE + 5):  # the oldest five fall out of the sample
        _job(
            session,
            user,
            JobStatus.COMPLETED,
            started_at=now - timedelta(hours=2 + index, seconds=40 + index * 7.25),
            completed_at=now - timedelta(hours=2 + index),
        )
    _job(session, user, JobStatus.PROCESSING, lease_owner="worker-1")
    session.flush()
    expected = estimated_start(session, waiting, now)

    # In a context of its own, as a request: the poll binds its user to the logs' context.
    row = session.connection().execute(*poll_query(get_settings(), user.id, waiting.id, now)).first()
    polled = contextvars.copy_context().run(polled_job, row, user.id, now)

    assert expected is not None and polled.outlook.estimated_start_at is not None
    assert polled.outlook.position == 2
    assert abs((polled.outlook.estimated_start_at - expected).total_seconds()) < 0.001
