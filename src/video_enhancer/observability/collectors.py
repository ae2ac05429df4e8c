"""Queue and job gauges read from the database when Prometheus scrapes.

The job table is the queue, so its depth and the age of its oldest entry are facts of the
database, not of any one process: every API replica reports the same numbers (aggregate with
`max`, not `sum`). One grouped query over the active statuses only, which the
`(status, queue_rank)` index serves without reading finished jobs; its result is kept a few
seconds so several scrapers (or a fast scrape interval) cost one query. When the query fails the
scrape still succeeds: `ve_database_up` reads 0 and the queue series are left out.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import Connection, Engine, func, select
from sqlalchemy.orm import Session

from video_enhancer.billing.plans import PLANS
from video_enhancer.models import ACTIVE_STATUSES, Job, JobStatus, utcnow

logger = logging.getLogger(__name__)

QUEUE_DEPTH = "ve_queue_depth"
QUEUE_OLDEST_AGE = "ve_queue_oldest_job_age_seconds"
JOBS_BY_STATUS = "ve_jobs_by_status"
DATABASE_UP = "ve_database_up"

# Every plan's priority always has a series, so "no queued job" reads 0 and not "no data".
PRIORITIES = tuple(sorted({limits.queue_priority for limits in PLANS.values()}))


@dataclass(frozen=True, slots=True)
class QueueSnapshot:
    jobs_by_status: dict[JobStatus, int]
    depth_by_priority: dict[int, int]
    oldest_queued_at_by_priority: dict[int, datetime]
    taken_at: datetime


@dataclass(frozen=True, slots=True)
class _ActiveRow:
    status: JobStatus
    priority: int
    count: int
    oldest_queued_at: datetime | None


def read_queue_snapshot(executor: Connection | Session, now: datetime | None = None) -> QueueSnapshot:
    """Counts of active jobs by status, and queue depth and oldest entry by priority."""
    statement = (
        select(Job.status, Job.priority, func.count(), func.min(Job.queued_at))
        .where(Job.status.in_(ACTIVE_STATUSES))
        .group_by(Job.status, Job.priority)
    )
    rows = [_ActiveRow(JobStatus(s), int(p), int(c), q) for s, p, c, q in executor.execute(statement)]
    return _snapshot_from_rows(rows, now or utcnow())


def _snapshot_from_rows(rows: list[_ActiveRow], now: datetime) -> QueueSnapshot:
    by_status = dict.fromkeys(sorted(ACTIVE_STATUSES), 0)
    depth = dict.fromkeys(PRIORITIES, 0)
    oldest: dict[int, datetime] = {}
    for row in rows:
        by_status[row.status] += row.count
        if row.status != JobStatus.QUEUED:
            continue
        depth[row.priority] = depth.get(row.priority, 0) + row.count
        if row.oldest_queued_at is not None:
            current = oldest.get(row.priority)
            oldest[row.priority] = (
                row.oldest_queued_at if current is None else min(current, row.oldest_queued_at)
            )
    return QueueSnapshot(by_status, depth, oldest, now)


@dataclass
class _Cache:
    snapshot: QueueSnapshot | None = None
    ok: bool = False
    read_at: float = float("-inf")
    lock: threading.Lock = field(default_factory=threading.Lock)


class QueueCollector(Collector):
    """Exposes `ve_queue_depth`, `ve_queue_oldest_job_age_seconds`, `ve_jobs_by_status`, `ve_database_up`."""

    def __init__(
        self, engine: Engine, *, max_age_seconds: float = 5.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._engine = engine
        self._max_age = max_age_seconds
        self._clock = clock
        self._cache = _Cache()

    def describe(self) -> list[GaugeMetricFamily]:
        # Described up front so the registry knows the names without querying the database.
        return list(_families().values())

    def collect(self) -> Iterator[GaugeMetricFamily]:
        snapshot, ok = self._current()
        families = _families()
        families[DATABASE_UP].add_metric([], 1.0 if ok else 0.0)
        if snapshot is not None:
            _fill(families, snapshot, utcnow())
            yield from families.values()
        else:
            yield families[DATABASE_UP]

    def _current(self) -> tuple[QueueSnapshot | None, bool]:
        with self._cache.lock:
            if self._clock() - self._cache.read_at >= self._max_age:
                self._refresh()
            return self._cache.snapshot, self._cache.ok

    def _refresh(self) -> None:
        try:
            with self._engine.connect() as connection:
                self._cache.snapshot, self._cache.ok = read_queue_snapshot(connection), True
        except Exception as exc:
            # A stale queue depth would hide the outage; drop it and report the database down.
            logger.warning("queue metrics query failed", extra={"error": type(exc).__name__})
            self._cache.snapshot, self._cache.ok = None, False
        self._cache.read_at = self._clock()


def _families() -> dict[str, GaugeMetricFamily]:
    return {
        QUEUE_DEPTH: GaugeMetricFamily(QUEUE_DEPTH, "Jobs waiting in the queue", labels=["priority"]),
        QUEUE_OLDEST_AGE: GaugeMetricFamily(
            QUEUE_OLDEST_AGE, "Seconds the oldest queued job has waited (0 when none)", labels=["priority"]
        ),
        JOBS_BY_STATUS: GaugeMetricFamily(JOBS_BY_STATUS, "Jobs in a non-final status", labels=["status"]),
        DATABASE_UP: GaugeMetricFamily(DATABASE_UP, "1 when the last queue metrics query succeeded"),
    }


def _fill(families: dict[str, GaugeMetricFamily], snapshot: QueueSnapshot, now: datetime) -> None:
    for status, count in snapshot.jobs_by_status.items():
        families[JOBS_BY_STATUS].add_metric([status.value], float(count))
    for priority, depth in sorted(snapshot.depth_by_priority.items()):
        families[QUEUE_DEPTH].add_metric([str(priority)], float(depth))
        queued_at = snapshot.oldest_queued_at_by_priority.get(priority)
        age = max(0.0, (now - queued_at).total_seconds()) if queued_at is not None else 0.0
        families[QUEUE_OLDEST_AGE].add_metric([str(priority)], age)
