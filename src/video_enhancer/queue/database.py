"""The database as the job queue: claim, lease, finish (see docs/adr/0002-database-queue.md).

Every state change here is ONE conditional statement (or one short transaction that locks the
job row first), so two workers can never both own a job:

* `claim_next_job` - ``UPDATE jobs SET status='PROCESSING', lease... WHERE id = (SELECT id ...
  ORDER BY queue_rank, queued_at LIMIT 1 FOR UPDATE SKIP LOCKED) RETURNING ...`` on PostgreSQL;
  the same statement without the lock clause on SQLite, where `BEGIN IMMEDIATE` serialises writers.
* `claim_job_by_id` - the same for a message-driven transport (Pub/Sub) that names the job.
* `extend_lease` - the owner's heartbeat; False once the lease is lost.
* `requeue_expired_leases` - stalled-job recovery: a job whose worker stopped heart-beating goes
  back to QUEUED (the attempt counts) or, out of attempts, to FAILED with WORKER_LOST.
* `complete_job` / `fail_job` / `retry_job` / `acknowledge_cancel` / `hand_back_job` - the ways
  a claim ends. Each acts only while the job is still PROCESSING under this worker's lease, so a
  worker that lost its lease cannot overwrite the new owner's work, and a second completion
  charges nothing.

Every change to a final status made here is counted in `ve_jobs_finished_total`, and every retry
in `ve_job_retries_total`, right after its transaction commits and only when a row really
changed: each transition counts once, whichever part of the worker (job runner, recovery,
Pub/Sub safety net) caused it.
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Engine, Select, Update, func, literal, or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from video_enhancer.billing.service import charge_job
from video_enhancer.db import session_scope
from video_enhancer.models import Job, JobStatus, User, Video, utcnow
from video_enhancer.models.base import UTCDateTime
from video_enhancer.observability.metrics import JOB_RETRIES, record_job_finished
from video_enhancer.queue.service import notify_workers

SessionFactory = sessionmaker[Session]

WORKER_LOST = "WORKER_LOST"
RETRY_BASE_SECONDS = 5.0
RETRY_MAX_SECONDS = 300.0


@dataclass(frozen=True, slots=True)
class ClaimedJob:
    """What a worker knows about a job it owns; `worker_id` is the lease owner."""

    job_id: uuid.UUID
    video_id: uuid.UUID
    user_id: uuid.UUID
    worker_id: str
    attempts: int
    max_attempts: int
    lease_expires_at: datetime
    request_id: str | None = None


@dataclass(frozen=True, slots=True)
class CompletedOutput:
    """What the worker produced, written onto the job and its video at completion."""

    measured_seconds: float
    output_storage_path: str
    output_resolution: str
    output_size_bytes: int
    enhancer: str
    result: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class RecoveredLeases:
    requeued: int = 0
    failed: int = 0
    canceled: int = 0


def _at(value: datetime) -> ColumnElement[datetime]:
    """A datetime bound with the UTC column type, so SQLite compares like with like."""
    return literal(value, UTCDateTime())


def _claim_values(worker_id: str, lease_seconds: float, now: datetime) -> dict[str, Any]:
    return {
        "status": JobStatus.PROCESSING,
        "lease_owner": worker_id,
        "lease_expires_at": now + timedelta(seconds=lease_seconds),
        "attempts": Job.attempts + 1,
        "started_at": func.coalesce(Job.started_at, _at(now)),
    }


def _returning_claim(statement: Update) -> Update:
    return statement.returning(
        Job.id,
        Job.video_id,
        Job.user_id,
        Job.attempts,
        Job.max_attempts,
        Job.lease_expires_at,
        Job.request_id,
    )


def _run_claim(session_factory: SessionFactory, statement: Update, worker_id: str) -> ClaimedJob | None:
    # A bare connection rather than a Session: the claim is the hot path of every idle worker and
    # needs no identity map; the statement commits as soon as it returns.
    with _engine(session_factory).begin() as connection:
        row = connection.execute(statement).first()
    if row is None:
        return None
    return ClaimedJob(
        job_id=row.id,
        video_id=row.video_id,
        user_id=row.user_id,
        worker_id=worker_id,
        attempts=row.attempts,
        max_attempts=row.max_attempts,
        lease_expires_at=row.lease_expires_at,
        request_id=row.request_id,
    )


def _next_job_id(now: datetime, lock: bool) -> Select[uuid.UUID]:
    query = (
        select(Job.id)
        .where(Job.status == JobStatus.QUEUED, or_(Job.run_after.is_(None), Job.run_after <= _at(now)))
        .order_by(Job.queue_rank, Job.queued_at)
        .limit(1)
    )
    # SKIP LOCKED: concurrent claimers each take a different row instead of queueing on one.
    return query.with_for_update(skip_locked=True) if lock else query


def _engine(session_factory: SessionFactory) -> Engine:
    bind = session_factory.kw.get("bind")
    if not isinstance(bind, Engine):
        raise TypeError("the queue needs a session factory bound to an Engine")
    return bind


def _is_postgres(session_factory: SessionFactory) -> bool:
    return _engine(session_factory).dialect.name == "postgresql"


def claim_next_job(
    session_factory: SessionFactory, worker_id: str, lease_seconds: float, now: datetime | None = None
) -> ClaimedJob | None:
    """Claim the first runnable QUEUED job in one statement; None when the queue is empty."""
    now = now or utcnow()
    next_id = _next_job_id(now, lock=_is_postgres(session_factory)).scalar_subquery()
    statement = (
        update(Job)
        .where(Job.id == next_id, Job.status == JobStatus.QUEUED)
        .values(_claim_values(worker_id, lease_seconds, now))
    )
    return _run_claim(session_factory, _returning_claim(statement), worker_id)


def claim_job_by_id(
    session_factory: SessionFactory,
    job_id: uuid.UUID,
    worker_id: str,
    lease_seconds: float,
    now: datetime | None = None,
) -> ClaimedJob | None:
    """Claim a named job (message-driven transports); None unless it is QUEUED right now.

    `run_after` is not consulted: the transport's own redelivery delay is the back-off there.
    """
    now = now or utcnow()
    statement = (
        update(Job)
        .where(Job.id == job_id, Job.status == JobStatus.QUEUED)
        .values(_claim_values(worker_id, lease_seconds, now))
    )
    return _run_claim(session_factory, _returning_claim(statement), worker_id)


def _owned(claimed: ClaimedJob) -> ColumnElement[bool]:
    return (
        (Job.id == claimed.job_id)
        & (Job.status == JobStatus.PROCESSING)
        & (Job.lease_owner == claimed.worker_id)
    )


def _update_owned(session_factory: SessionFactory, claimed: ClaimedJob, values: dict[str, Any]) -> bool:
    """Apply `values` only while this worker still owns the job; True when it did."""
    with session_scope(session_factory) as session:
        changed = session.scalar(
            update(Job)
            .where(_owned(claimed))
            .values(values)
            .returning(Job.id)
            .execution_options(synchronize_session=False)
        )
    return changed is not None


def extend_lease(
    session_factory: SessionFactory, claimed: ClaimedJob, lease_seconds: float, now: datetime | None = None
) -> bool:
    """The owner's heartbeat. False means the lease was lost: stop working on the job."""
    now = now or utcnow()
    return _update_owned(
        session_factory, claimed, {"lease_expires_at": now + timedelta(seconds=lease_seconds)}
    )


def _released() -> dict[str, Any]:
    """Values every way out of PROCESSING shares: no lease, no live progress (stage, speed, ETA);
    terminal ones also release the hold."""
    return {"lease_owner": None, "lease_expires_at": None, "stage": None, "fps": None, "eta_seconds": None}


def _terminal(now: datetime) -> dict[str, Any]:
    return {**_released(), "minutes_held": 0, "completed_at": now}


def requeue_expired_leases(session_factory: SessionFactory, now: datetime | None = None) -> RecoveredLeases:
    """Stalled-job recovery: act on every PROCESSING job whose lease has expired.

    A cancel request is honoured (CANCELED); a job out of attempts fails with WORKER_LOST;
    anything else goes back to QUEUED keeping its rank, so it is taken again first. The attempt
    that died has already been counted by its claim.
    """
    now = now or utcnow()
    expired = (Job.status == JobStatus.PROCESSING) & (Job.lease_expires_at < _at(now))
    with session_scope(session_factory) as session:
        canceled = _bulk(
            session,
            expired & Job.cancel_requested.is_(True),
            {**_terminal(now), "status": JobStatus.CANCELED},
        )
        failed = _bulk(
            session,
            expired & (Job.attempts >= Job.max_attempts),
            {
                **_terminal(now),
                "status": JobStatus.FAILED,
                "error_code": WORKER_LOST,
                "error_message": "The worker processing this video stopped responding too many times.",
            },
        )
        requeued = _bulk(session, expired, {**_released(), "status": JobStatus.QUEUED, "run_after": None})
        if requeued and _is_postgres(session_factory):
            notify_workers(session)
    record_job_finished(JobStatus.CANCELED, count=canceled)
    record_job_finished(JobStatus.FAILED, WORKER_LOST, count=failed)
    return RecoveredLeases(requeued=requeued, failed=failed, canceled=canceled)


release_expired_leases = requeue_expired_leases


def _bulk(session: Session, condition: ColumnElement[bool], values: dict[str, Any]) -> int:
    ids = session.scalars(
        update(Job)
        .where(condition)
        .values(**values)
        .returning(Job.id)
        .execution_options(synchronize_session=False)
    ).all()
    return len(ids)


def _lock_owned_job(session: Session, claimed: ClaimedJob) -> Job | None:
    job = session.scalar(select(Job).where(Job.id == claimed.job_id).with_for_update())
    if job is None or job.status != JobStatus.PROCESSING or job.lease_owner != claimed.worker_id:
        return None
    return job


def complete_job(session_factory: SessionFactory, claimed: ClaimedJob, output: CompletedOutput) -> int | None:
    """Mark COMPLETED, charge the measured minutes and release the hold, in one transaction.

    Returns the minutes charged, or None when the job is no longer this worker's (completed
    already, canceled, lease lost): then nothing is written and nothing is charged.
    """
    now = utcnow()
    with session_scope(session_factory) as session:
        job = _lock_owned_job(session, claimed)
        if job is None:
            return None
        user = session.get(User, job.user_id, with_for_update=True)
        video = session.get(Video, job.video_id, with_for_update=True)
        assert user is not None and video is not None  # foreign keys guarantee both
        minutes = charge_job(session, job, user, output.measured_seconds)
        _write_completion(job, video, output, now)
    record_job_finished(JobStatus.COMPLETED)
    return minutes


def _write_completion(job: Job, video: Video, output: CompletedOutput, now: datetime) -> None:
    values = {
        **_terminal(now),  # what every way out of PROCESSING clears, and the hold
        "status": JobStatus.COMPLETED,
        "progress_percent": 100.0,
        "error_code": None,
        "error_message": None,
        "enhancer": output.enhancer,
        "result": output.result,
    }
    for name, value in values.items():
        setattr(job, name, value)
    video.output_storage_path = output.output_storage_path
    video.output_resolution = output.output_resolution
    video.output_size_bytes = output.output_size_bytes


def fail_job(session_factory: SessionFactory, claimed: ClaimedJob, code: str, message: str) -> bool:
    """Permanent failure: FAILED with a stable code and a readable message; hold released."""
    now = utcnow()
    values = {**_terminal(now), "status": JobStatus.FAILED, "error_code": code, "error_message": message}
    if not _update_owned(session_factory, claimed, values):
        return False
    record_job_finished(JobStatus.FAILED, code)
    return True


def retry_delay_seconds(attempts: int, rng: random.Random | None = None) -> float:
    """Exponential back-off with jitter: 5 s, 10 s, 20 s ... capped at 5 minutes, times 0.5-1.0."""
    ceiling = min(RETRY_MAX_SECONDS, RETRY_BASE_SECONDS * 2 ** max(0, attempts - 1))
    return ceiling * (0.5 + 0.5 * (rng or random).random())


def retry_job(
    session_factory: SessionFactory,
    claimed: ClaimedJob,
    code: str,
    message: str,
    now: datetime | None = None,
) -> JobStatus | None:
    """Transient failure: back to QUEUED after a back-off while attempts remain, else FAILED.

    Returns the new status, or None when the job was no longer this worker's.
    """
    now = now or utcnow()
    if claimed.attempts >= claimed.max_attempts:
        return JobStatus.FAILED if fail_job(session_factory, claimed, code, message) else None
    delay = retry_delay_seconds(claimed.attempts)
    values = {
        **_released(),
        "status": JobStatus.QUEUED,
        "run_after": now + timedelta(seconds=delay),
        "error_code": code,
        "error_message": message,
    }
    if not _update_owned(session_factory, claimed, values):
        return None
    JOB_RETRIES.labels(reason=code).inc()
    return JobStatus.QUEUED


def acknowledge_cancel(session_factory: SessionFactory, claimed: ClaimedJob) -> bool:
    """The worker stopped at a checkpoint after a cancel request: CANCELED, hold released."""
    if not _update_owned(session_factory, claimed, {**_terminal(utcnow()), "status": JobStatus.CANCELED}):
        return False
    record_job_finished(JobStatus.CANCELED)
    return True


def hand_back_job(session_factory: SessionFactory, claimed: ClaimedJob) -> bool:
    """Graceful shutdown: QUEUED again at once, and this attempt does not count against the job."""
    values = {**_released(), "status": JobStatus.QUEUED, "run_after": None, "attempts": Job.attempts - 1}
    with session_scope(session_factory) as session:
        changed = session.scalar(
            update(Job)
            .where(_owned(claimed))
            .values(**values)
            .returning(Job.id)
            .execution_options(synchronize_session=False)
        )
        if changed is not None and _is_postgres(session_factory):
            notify_workers(session, str(claimed.job_id))
    return changed is not None


def record_progress(session_factory: SessionFactory, claimed: ClaimedJob, values: dict[str, Any]) -> bool:
    """Write progress fields (stage, percent, frames, fps, eta); False once the lease is lost."""
    return _update_owned(session_factory, claimed, values)


def is_cancel_requested(session_factory: SessionFactory, job_id: uuid.UUID) -> bool:
    with session_factory() as session:
        return bool(session.scalar(select(Job.cancel_requested).where(Job.id == job_id)))
