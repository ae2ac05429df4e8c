"""What `GET /jobs/{jobId}` adds for a queued job: its place in the queue, when a worker should
take it, and whether a live worker offers its enhancer.

Apps poll this every few seconds, so it is read in two statements (the three counts together,
then the recent job lengths) rather than one per figure: on PostgreSQL each statement is a round
trip, and on either backend each costs more in SQLAlchemy than in the database.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from sqlalchemy import exists, literal, select, true
from sqlalchemy.orm import Session

from video_enhancer.catalogue.service import live_window
from video_enhancer.config import Settings
from video_enhancer.events.service import busy_workers, jobs_ahead, recent_job_seconds, start_estimate
from video_enhancer.models import Job, JobStatus, WorkerEnhancer


@dataclass(frozen=True, slots=True)
class QueueOutlook:
    position: int | None = None
    estimated_start_at: datetime | None = None
    waiting_for: Literal["enhancer"] | None = None


def queue_outlook(session: Session, settings: Settings, job: Job, now: datetime) -> QueueOutlook:
    if job.status is not JobStatus.QUEUED:
        return QueueOutlook()
    offered = (
        exists()
        .where(WorkerEnhancer.enhancer == job.enhancer, WorkerEnhancer.seen_at >= now - live_window(settings))
        .select()
        .scalar_subquery()
        if job.enhancer is not None
        else select(true()).scalar_subquery()
    )
    ranked = job.queue_rank is not None
    ahead = jobs_ahead(job).scalar_subquery() if ranked else select(literal(0)).scalar_subquery()
    jobs_before, busy, is_offered = session.execute(
        select(ahead, busy_workers().scalar_subquery(), offered)
    ).one()
    position = int(jobs_before or 0) + 1 if ranked else None
    estimate = (
        start_estimate(position, recent_job_seconds(session), int(busy or 0), now) if position else None
    )
    return QueueOutlook(position, estimate, None if is_offered else "enhancer")
