"""What `GET /jobs/{jobId}` adds for a queued job: its place in the queue, when a worker should
take it, and whether a live worker offers its enhancer.

Apps poll this every few seconds, so its figures, the average length of recent jobs included,
are columns of the statement that reads the job (`outlook_columns`, evaluated only for a queued
job): on PostgreSQL each statement is a round trip, and on either backend building and running a
statement costs far more in SQLAlchemy than in the database.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import (
    ColumnElement,
    Float,
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
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement

from video_enhancer.events.service import ESTIMATE_SAMPLE, start_estimate_at_average
from video_enhancer.models import JobStatus, WorkerEnhancer, table_of


@dataclass(frozen=True, slots=True)
class QueueOutlook:
    position: int | None = None
    estimated_start_at: datetime | None = None
    waiting_for: Literal["enhancer"] | None = None


def outlook_columns(jobs: Table) -> list[ColumnElement[Any]]:
    """`jobs_ahead`, `busy_workers`, `enhancer_offered` and `recent_average_seconds` of the job
    read from `jobs` (NULL unless it is queued). The live window's start is the bind parameter
    `live_since`."""
    ahead, running, offering = jobs.alias("ahead"), jobs.alias("running"), table_of(WorkerEnhancer)
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
        case((queued, _recent_average_seconds(jobs))).label("recent_average_seconds"),
    ]


def _recent_average_seconds(jobs: Table) -> ColumnElement[float]:
    """The average length of the latest completed jobs, from start to completion (what
    `events.service.recent_job_seconds` reads), NULL without any."""
    recent = jobs.alias("recent")
    lengths = (
        select(SecondsBetween(recent.c.started_at, recent.c.completed_at).label("seconds"))
        .where(
            recent.c.status == JobStatus.COMPLETED,
            recent.c.started_at.is_not(None),
            recent.c.completed_at.is_not(None),
        )
        .order_by(recent.c.completed_at.desc())
        .limit(ESTIMATE_SAMPLE)
        .subquery("recent_lengths")
    )
    return select(func.avg(lengths.c.seconds)).scalar_subquery()


class SecondsBetween(FunctionElement[float]):
    """`end - start` in seconds, as a float, on SQLite and PostgreSQL."""

    type = Float()
    inherit_cache = True
    name = "seconds_between"


@compiles(SecondsBetween, "postgresql")
def _seconds_between_postgresql(element: SecondsBetween, compiler: SQLCompiler, **kw: Any) -> str:
    start, end = (compiler.process(clause, **kw) for clause in element.clauses)
    return f"EXTRACT(EPOCH FROM ({end} - {start}))::float8"


@compiles(SecondsBetween, "sqlite")
def _seconds_between_sqlite(element: SecondsBetween, compiler: SQLCompiler, **kw: Any) -> str:
    start, end = (compiler.process(clause, **kw) for clause in element.clauses)
    return f"((julianday({end}) - julianday({start})) * 86400.0)"


def queue_outlook(polled: Row[Any], now: datetime) -> QueueOutlook:
    """The outlook of a job read with `outlook_columns`."""
    if polled.status is not JobStatus.QUEUED:
        return QueueOutlook()
    position = int(polled.jobs_ahead or 0) + 1 if polled.queue_rank is not None else None
    average = polled.recent_average_seconds
    estimate = (
        start_estimate_at_average(
            position, float(average) if average is not None else None, int(polled.busy_workers or 0), now
        )
        if position
        else None
    )
    return QueueOutlook(position, estimate, None if polled.enhancer_offered else "enhancer")
