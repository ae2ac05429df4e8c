"""Append to and read the event log; queue position; thinning and retention."""

from __future__ import annotations

import json
import math
import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Select, and_, delete, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from video_enhancer.models import (
    TERMINAL_STATUSES,
    EventCounter,
    EventType,
    Job,
    JobEvent,
    JobStatus,
    utcnow,
)

NOTIFY_CHANNEL = "ve_events"
"""PostgreSQL LISTEN/NOTIFY channel of the event log; the payload is the user id."""

# How many recent completed jobs estimate the wait of a queued one.
ESTIMATE_SAMPLE = 20


def append_event(
    session: Session,
    event_type: EventType,
    *,
    user_id: uuid.UUID,
    job_id: uuid.UUID | None = None,
    video_id: uuid.UUID | None = None,
    data: dict[str, Any],
) -> JobEvent:
    """Append one event to the user's log, in the caller's transaction, and fan it out to webhooks."""
    from video_enhancer.webhooks.service import enqueue_deliveries  # webhooks import this module

    event = JobEvent(
        user_id=user_id,
        seq=_next_seq(session, user_id),
        job_id=job_id,
        video_id=video_id,
        type=event_type.value,
        data=data,
        created_at=utcnow(),
    )
    session.add(event)
    session.flush()
    enqueue_deliveries(session, event)
    if session.get_bind().dialect.name == "postgresql":
        session.execute(select(func.pg_notify(NOTIFY_CHANNEL, str(user_id))))
    return event


def append_job_event(session: Session, event_type: EventType, job: Job, **extra: Any) -> JobEvent:
    """Append a `job.*` event carrying the job's ids, status and the type's own fields."""
    data = {"jobId": str(job.id), "videoId": str(job.video_id), "status": str(job.status), **extra}
    return append_event(
        session, event_type, user_id=job.user_id, job_id=job.id, video_id=job.video_id, data=data
    )


def _next_seq(session: Session, user_id: uuid.UUID) -> int:
    # An upsert that increments the user's counter row: the row stays locked until commit, so two
    # transactions of one user take their numbers and commit in the same order.
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = (
        insert(EventCounter)
        .values(user_id=user_id, last_seq=1)
        .on_conflict_do_update(
            index_elements=[EventCounter.user_id], set_={"last_seq": EventCounter.last_seq + 1}
        )
        .returning(EventCounter.last_seq)
    )
    return int(session.execute(statement).scalar_one())


def events_after(
    session: Session,
    user_id: uuid.UUID,
    after_seq: int,
    *,
    job_id: uuid.UUID | None = None,
    limit: int = 500,
) -> Sequence[JobEvent]:
    query = select(JobEvent).where(JobEvent.user_id == user_id, JobEvent.seq > after_seq)
    if job_id is not None:
        query = query.where(JobEvent.job_id == job_id)
    return session.scalars(query.order_by(JobEvent.seq).limit(limit)).all()


def last_seq(session: Session, user_id: uuid.UUID) -> int:
    value = session.scalar(select(EventCounter.last_seq).where(EventCounter.user_id == user_id))
    return int(value or 0)


def event_json(event: JobEvent) -> dict[str, Any]:
    """The wire form of an event, the same in the stream and in webhooks."""
    return {
        "id": event.seq,
        "type": event.type,
        "timestamp": event.created_at.isoformat().replace("+00:00", "Z"),
        "data": event.data,
    }


def event_text(event: JobEvent) -> str:
    return json.dumps(event_json(event), separators=(",", ":"))


def progress_data(job: Job) -> dict[str, Any]:
    return {
        "stage": job.stage,
        "progressPercent": job.progress_percent,
        "framesDone": job.frames_done,
        "framesTotal": job.frames_total,
        "fps": job.fps,
        "etaSeconds": job.eta_seconds,
    }


def queue_position(session: Session, job: Job) -> int | None:
    """1 for the next job a worker claims; None when the job is not waiting in the queue."""
    if job.status is not JobStatus.QUEUED or job.queue_rank is None:
        return None
    return int(session.scalar(jobs_ahead(job)) or 0) + 1


def jobs_ahead(job: Job) -> Select[int]:
    """How many queued jobs a worker claims before this one (which has a `queue_rank`)."""
    return (
        select(func.count())
        .select_from(Job)
        .where(Job.status == JobStatus.QUEUED, Job.queue_rank < job.queue_rank)
    )


def busy_workers() -> Select[int]:
    return select(func.count(func.distinct(Job.lease_owner))).where(Job.status == JobStatus.PROCESSING)


def estimated_start(
    session: Session, job: Job, now: datetime | None = None, *, position: int | None = None
) -> datetime | None:
    """When a worker should take the job (`start_estimate`). `position` is the job's
    `queue_position` when the caller has it already (it is counted otherwise)."""
    position = position if position is not None else queue_position(session, job)
    if position is None:
        return None
    durations = recent_job_seconds(session)
    if not durations:
        return None
    return start_estimate(position, durations, int(session.scalar(busy_workers()) or 0), now)


def recent_job_seconds(session: Session | Connection) -> list[float]:
    """How long the latest completed jobs ran, from start to completion."""
    recent = session.execute(_RECENT_JOBS).all()
    return [(end - start).total_seconds() for start, end in recent if start and end]


# Built once: apps poll the start estimate, and building a statement costs more than running it.
_RECENT_JOBS = (
    select(Job.started_at, Job.completed_at)
    .where(Job.status == JobStatus.COMPLETED, Job.started_at.is_not(None), Job.completed_at.is_not(None))
    .order_by(Job.completed_at.desc())
    .limit(ESTIMATE_SAMPLE)
)


def start_estimate(
    position: int, durations: Sequence[float], busy: int, now: datetime | None = None
) -> datetime | None:
    """The jobs ahead, spread over the busy workers, at the average length of recent jobs. None
    without history to estimate from."""
    if not durations:
        return None
    return start_estimate_at_average(position, sum(durations) / len(durations), busy, now)


def start_estimate_at_average(
    position: int, average: float | None, busy: int, now: datetime | None = None
) -> datetime | None:
    """`start_estimate` from the average length of recent jobs (None without history)."""
    if average is None:
        return None
    # The jobs ahead finish in rounds of `busy` at a time; the running ones are half done on average.
    rounds_ahead = math.ceil((position - 1) / max(1, busy))
    wait = average * rounds_ahead + (average / 2 if busy else 0.0)
    return (now or utcnow()) + timedelta(seconds=wait)


def queued_data(session: Session, job: Job) -> dict[str, Any]:
    position = queue_position(session, job)
    start = estimated_start(session, job, position=position)
    return {
        "queuePosition": position,
        "estimatedStartAt": start.isoformat().replace("+00:00", "Z") if start else None,
    }


def prune_events(session: Session, now: datetime, retention_days: int) -> int:
    """Thin progress events of ended jobs to the last one, and drop events past the retention."""
    ended_jobs = select(Job.id).where(Job.status.in_(list(TERMINAL_STATUSES)))
    latest = (
        select(JobEvent.job_id, func.max(JobEvent.seq).label("seq"))
        .where(JobEvent.type == EventType.JOB_PROGRESS.value)
        .group_by(JobEvent.job_id)
        .subquery()
    )
    thinned = session.execute(
        delete(JobEvent)
        .where(
            JobEvent.type == EventType.JOB_PROGRESS.value,
            JobEvent.job_id.in_(ended_jobs),
            ~select(latest.c.seq)
            .where(and_(latest.c.job_id == JobEvent.job_id, latest.c.seq == JobEvent.seq))
            .exists(),
        )
        .execution_options(synchronize_session=False)
    ).rowcount  # type: ignore[attr-defined]
    expired = session.execute(
        delete(JobEvent)
        .where(JobEvent.created_at < now - timedelta(days=retention_days))
        .execution_options(synchronize_session=False)
    ).rowcount  # type: ignore[attr-defined]
    return int(thinned or 0) + int(expired or 0)
