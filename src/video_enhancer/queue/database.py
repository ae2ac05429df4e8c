"""The database as the job queue: which job is next, who owns it, its lease (docs/adr/0002).

The state changes themselves (claim, complete, fail, retry, cancel, lease lost, ...) live in
`video_enhancer.jobs.lifecycle`; this module gives them the queue's building blocks and keeps
the owner's own writes that change no status:

* `next_job_id` - the first runnable QUEUED job, ``... ORDER BY queue_rank, queued_at LIMIT 1
  FOR UPDATE SKIP LOCKED`` on PostgreSQL; without the lock clause on SQLite, where `BEGIN
  IMMEDIATE` serialises writers;
* `owned_by` - "still PROCESSING under this worker's lease", the condition of every write a
  worker makes to its job, so a worker that lost its lease cannot overwrite the new owner's work;
* `extend_lease` - the owner's heartbeat; False once the lease is lost;
* `record_progress` - stage, percent, frames, speed and ETA;
* `is_cancel_requested` - the cooperative abort flag the worker reads between segments.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Engine, Select, literal, or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from video_enhancer.db import session_scope
from video_enhancer.models import Job, JobStatus, utcnow
from video_enhancer.models.base import UTCDateTime

SessionFactory = sessionmaker[Session]

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
    enhancer: str | None = None
    """The enhancer the job asks for (the worker runs it with that one when it has it loaded)."""


@dataclass(frozen=True, slots=True)
class CompletedOutput:
    """What the worker produced, written onto the job and its video at completion."""

    measured_seconds: float
    output_storage_path: str
    output_resolution: str
    output_size_bytes: int
    enhancer: str
    result: dict[str, Any] = field(default_factory=dict)
    quality: dict[str, Any] | None = None
    output_thumbnail_path: str | None = None


def at(value: datetime) -> ColumnElement[datetime]:
    """A datetime bound with the UTC column type, so SQLite compares like with like."""
    return literal(value, UTCDateTime())


def next_job_id(now: datetime, lock: bool, enhancers: Collection[str] | None = None) -> Select[uuid.UUID]:
    """The next runnable QUEUED job; with `enhancers`, only a job asking for one of them."""
    query = (
        select(Job.id)
        .where(Job.status == JobStatus.QUEUED, or_(Job.run_after.is_(None), Job.run_after <= at(now)))
        .order_by(Job.queue_rank, Job.queued_at)
        .limit(1)
    )
    if enhancers is not None:
        query = query.where(Job.enhancer.in_(list(enhancers)))
    # SKIP LOCKED: concurrent claimers each take a different row instead of queueing on one.
    return query.with_for_update(skip_locked=True) if lock else query


def _engine(session_factory: SessionFactory) -> Engine:
    bind = session_factory.kw.get("bind")
    if not isinstance(bind, Engine):
        raise TypeError("the queue needs a session factory bound to an Engine")
    return bind


def is_postgres(session_factory: SessionFactory) -> bool:
    return _engine(session_factory).dialect.name == "postgresql"


def owned_by(claimed: ClaimedJob) -> ColumnElement[bool]:
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
            .where(owned_by(claimed))
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


def retry_delay_seconds(attempts: int, rng: random.Random | None = None) -> float:
    """Exponential back-off with jitter: 5 s, 10 s, 20 s ... capped at 5 minutes, times 0.5-1.0."""
    ceiling = min(RETRY_MAX_SECONDS, RETRY_BASE_SECONDS * 2 ** max(0, attempts - 1))
    return ceiling * (0.5 + 0.5 * (rng or random).random())


_PROGRESS_FIELDS = frozenset(
    {"stage", "progress_percent", "frames_done", "frames_total", "fps", "eta_seconds"}
)


def record_progress(
    session_factory: SessionFactory, claimed: ClaimedJob, values: dict[str, Any], *, event: bool = False
) -> bool:
    """Write progress fields (stage, percent, frames, fps, eta), and with `event` a `job.progress`
    event in the same transaction; False once the lease is lost."""
    unknown = set(values) - _PROGRESS_FIELDS
    if unknown:  # the status and the hold belong to the lifecycle, not to progress reports
        raise ValueError(f"not progress fields: {sorted(unknown)}")
    with session_scope(session_factory) as session:
        job = session.scalar(
            update(Job)
            .where(owned_by(claimed))
            .values(values)
            .returning(Job)
            .execution_options(synchronize_session=False, populate_existing=True)
        )
        if job is not None and event:
            from video_enhancer.events.transitions import append_progress

            append_progress(session, job)
    return job is not None


def is_cancel_requested(session_factory: SessionFactory, job_id: uuid.UUID) -> bool:
    with session_factory() as session:
        return bool(session.scalar(select(Job.cancel_requested).where(Job.id == job_id)))
