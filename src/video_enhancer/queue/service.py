"""The queue's side of a job becoming QUEUED, inside the caller's transaction.

The status change itself is `jobs.lifecycle.enqueue_job`; once it is written, `announce_queued`
tells the transport, in the same transaction (one request = one transaction, never a commit
here), so the job row, its quota hold and its queue entry become visible together:

* on PostgreSQL it issues `pg_notify`, which PostgreSQL delivers only when the transaction
  commits, so an idle worker wakes exactly when the job can be claimed;
* with `VE_QUEUE=pubsub` it writes an outbox message; the relay publishes it afterwards.

`reannounce_queued_jobs` writes a fresh outbox message for every QUEUED job (after the job
subscriptions were replaced; a duplicate message costs nothing, the consumer claims by id).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from video_enhancer.config import Settings
from video_enhancer.models import Job, JobStatus, OutboxMessage, Video

NOTIFY_CHANNEL = "ve_jobs"
"""PostgreSQL LISTEN/NOTIFY channel; the payload is the job id."""


def queue_rank(queued_at: datetime, priority: int, aging_seconds: int) -> float:
    """Claim order (ascending): a job of priority p counts as queued p x aging seconds earlier.

    So a higher plan jumps ahead of lower ones by a bounded amount of time, and a waiting FREE
    job is overtaken only by jobs queued less than `priority x aging_seconds` after it.
    """
    return queued_at.timestamp() - priority * aging_seconds


def announce_queued(session: Session, job: Job, settings: Settings) -> None:
    """Tell the transport a job is QUEUED, in the transaction that made it so."""
    if settings.queue == "pubsub":
        _write_outbox_message(session, job, settings)
    elif session.get_bind().dialect.name == "postgresql":
        notify_workers(session, str(job.id))


def notify_workers(session: Session, payload: str = "") -> None:
    """Wake idle PostgreSQL workers when the current transaction commits."""
    session.execute(select(func.pg_notify(NOTIFY_CHANNEL, payload)))


def job_enhancer(job: Job, settings: Settings) -> str:
    """The enhancer a job runs with; a row from before per-job enhancers runs with the default,
    as a job asking for nothing would today."""
    return job.enhancer or settings.resolved_enhancer


def reannounce_queued_jobs(session: Session, settings: Settings) -> int:
    """An outbox message for every QUEUED job, in the caller's transaction; returns how many."""
    jobs = list(session.scalars(select(Job).where(Job.status == JobStatus.QUEUED).order_by(Job.queue_rank)))
    for job in jobs:
        _write_outbox_message(session, job, settings)
    return len(jobs)


def _write_outbox_message(session: Session, job: Job, settings: Settings) -> None:
    video = session.get(Video, job.video_id)
    session.add(
        OutboxMessage(
            topic=settings.pubsub_topic,
            payload={
                "jobId": str(job.id),
                "videoId": str(job.video_id),
                "userId": str(job.user_id),
                "inputPath": video.storage_path if video is not None else None,
                "priority": job.priority,
                "enhancer": job_enhancer(job, settings),
            },
            attributes={"jobId": str(job.id)},
        )
    )
    session.flush()
