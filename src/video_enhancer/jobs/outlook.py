"""What `GET /jobs/{jobId}` adds for a queued job: its place in the queue, when a worker should
take it, and whether a live worker offers its enhancer.

Apps poll this every few seconds, so its figures are columns of the statement that reads the job
(`outlook_columns`, evaluated only for a queued job), and the recent job lengths a second,
prebuilt statement: on PostgreSQL each statement is a round trip, and on either backend building
and running a statement costs far more in SQLAlchemy than in the database.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import (
    ColumnElement,
    Connection,
    Row,
    Table,
    and_,
    bindparam,
    case,
    exists,
    func,
    select,
    true,
)

from video_enhancer.events.service import recent_job_seconds, start_estimate
from video_enhancer.models import JobStatus, WorkerEnhancer


@dataclass(frozen=True, slots=True)
class QueueOutlook:
    position: int | None = None
    estimated_start_at: datetime | None = None
    waiting_for: Literal["enhancer"] | None = None


def outlook_columns(jobs: Table) -> list[ColumnElement[Any]]:
    """`jobs_ahead`, `busy_workers` and `enhancer_offered` of the job read from `jobs` (NULL
    unless it is queued). The live window's start is the bind parameter `live_since`."""
    ahead, running, offering = jobs.alias("ahead"), jobs.alias("running"), _worker_enhancers()
    queued = jobs.c.status == JobStatus.QUEUED
    jobs_ahead = (
        select(func.count())
        .where(ahead.c.status == JobStatus.QUEUED, ahead.c.queue_rank < jobs.c.queue_rank)
        .scalar_subquery()
    )
    busy = (
        select(func.count(func.distinct(running.c.lease_owner)))
        .where(running.c.status == JobStatus.PROCESSING)
        .scalar_subquery()
    )
    offered = exists().where(
        offering.c.enhancer == jobs.c.enhancer, offering.c.seen_at >= bindparam("live_since")
    )
    return [
        case((and_(queued, jobs.c.queue_rank.is_not(None)), jobs_ahead)).label("jobs_ahead"),
        case((queued, busy)).label("busy_workers"),
        case((and_(queued, jobs.c.enhancer.is_(None)), true()), (queued, offered)).label("enhancer_offered"),
    ]


def _worker_enhancers() -> Table:
    table = WorkerEnhancer.__table__
    assert isinstance(table, Table)
    return table


def queue_outlook(connection: Connection, polled: Row[Any], now: datetime) -> QueueOutlook:
    """The outlook of a job read with `outlook_columns`."""
    if polled.status is not JobStatus.QUEUED:
        return QueueOutlook()
    position = int(polled.jobs_ahead or 0) + 1 if polled.queue_rank is not None else None
    estimate = (
        start_estimate(position, recent_job_seconds(connection), int(polled.busy_workers or 0), now)
        if position
        else None
    )
    return QueueOutlook(position, estimate, None if polled.enhancer_offered else "enhancer")
