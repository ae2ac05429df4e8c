"""Service statistics for people who run no Prometheus: `video-enhancer stats` (`cli.stats`) and
`GET /admin/stats`.

The numbers come straight from the database, so they agree with the queue gauges of `/metrics`
and survive restarts (unlike process counters). The error rate counts FAILED among COMPLETED and
FAILED jobs: a cancellation is the user's choice and says nothing about the service's health.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session

from video_enhancer.billing.plans import PRIORITY_NAMES
from video_enhancer.models import Job, JobStatus, UsageEntry, utcnow
from video_enhancer.observability.collectors import read_queue_snapshot

CHARGED_WINDOW = timedelta(days=30)


@dataclass(frozen=True, slots=True)
class QueueStats:
    priority: int
    priority_name: str
    depth: int
    oldest_age_seconds: float | None  # None when nothing of this priority waits


@dataclass(frozen=True, slots=True)
class Stats:
    generated_at: datetime
    jobs_by_status: dict[str, int]
    completed_jobs: int
    failed_jobs: int
    average_processing_seconds: float | None  # completed jobs: completed_at - started_at
    error_rate: float | None  # failed / (completed + failed); None before any job finished
    queue: list[QueueStats]
    oldest_queued_age_seconds: float | None
    minutes_charged_last_30_days: int


def compute_stats(session: Session, now: datetime | None = None) -> Stats:
    now = now or utcnow()
    by_status = _jobs_by_status(session)
    completed, failed = by_status[JobStatus.COMPLETED.value], by_status[JobStatus.FAILED.value]
    queue = _queue_stats(session, now)
    ages = [entry.oldest_age_seconds for entry in queue if entry.oldest_age_seconds is not None]
    return Stats(
        generated_at=now,
        jobs_by_status=by_status,
        completed_jobs=completed,
        failed_jobs=failed,
        average_processing_seconds=_average_processing_seconds(session),
        error_rate=failed / (completed + failed) if completed + failed else None,
        queue=queue,
        oldest_queued_age_seconds=max(ages) if ages else None,
        minutes_charged_last_30_days=_minutes_charged_since(session, now - CHARGED_WINDOW),
    )


def _jobs_by_status(session: Session) -> dict[str, int]:
    counts = dict.fromkeys((status.value for status in JobStatus), 0)
    for status, count in session.execute(select(Job.status, func.count()).group_by(Job.status)):
        counts[JobStatus(status).value] = int(count)
    return counts


def _duration_seconds(session: Session) -> ColumnElement[Any]:
    """completed_at - started_at in seconds, in the dialect's own date arithmetic."""
    if session.get_bind().dialect.name == "sqlite":
        return (func.julianday(Job.completed_at) - func.julianday(Job.started_at)) * 86400.0
    return func.extract("epoch", Job.completed_at - Job.started_at)


def _average_processing_seconds(session: Session) -> float | None:
    statement = select(func.avg(_duration_seconds(session))).where(
        Job.status == JobStatus.COMPLETED, Job.started_at.is_not(None), Job.completed_at.is_not(None)
    )
    average = session.execute(statement).scalar_one()
    return None if average is None else round(float(average), 3)


def _queue_stats(session: Session, now: datetime) -> list[QueueStats]:
    snapshot = read_queue_snapshot(session, now)
    entries = []
    for priority, depth in sorted(snapshot.depth_by_priority.items()):
        queued_at = snapshot.oldest_queued_at_by_priority.get(priority)
        age = round(max(0.0, (now - queued_at).total_seconds()), 3) if queued_at is not None else None
        entries.append(QueueStats(priority, PRIORITY_NAMES.get(priority, str(priority)), depth, age))
    return entries


def _minutes_charged_since(session: Session, since: datetime) -> int:
    statement = select(func.coalesce(func.sum(UsageEntry.minutes), 0)).where(UsageEntry.created_at >= since)
    return int(session.execute(statement).scalar_one())


def stats_as_dict(stats: Stats) -> dict[str, Any]:
    body = asdict(stats)
    body["generated_at"] = stats.generated_at.isoformat()
    return body


def format_stats_table(stats: Stats) -> str:
    lines = [f"Video Enhancer statistics at {stats.generated_at:%Y-%m-%d %H:%M:%S} UTC", "", "Jobs by status"]
    lines += [f"  {status:<16}{count:>8}" for status, count in stats.jobs_by_status.items()]
    lines += [
        "",
        f"Average processing time    {_seconds(stats.average_processing_seconds)}"
        f" ({stats.completed_jobs} completed)",
        f"Error rate                 {_percent(stats.error_rate)}"
        f" ({stats.failed_jobs} failed of {stats.completed_jobs + stats.failed_jobs} finished)",
        f"Minutes charged (30 days)  {stats.minutes_charged_last_30_days}",
        "",
        "Queue          depth   oldest wait",
    ]
    lines += [
        f"  {entry.priority} {entry.priority_name:<10}{entry.depth:>6}   {_seconds(entry.oldest_age_seconds)}"
        for entry in stats.queue
    ]
    return "\n".join(lines)


def _seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f} s"


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:.1f}%"
