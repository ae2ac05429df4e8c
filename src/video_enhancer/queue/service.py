"""Putting jobs on the queue and taking them off again, inside the caller's transaction.

Both functions only change rows in the session they are given; they never commit (one request =
one transaction), so the job row, its quota hold and its queue entry become visible together.

* `enqueue_job` turns an uploaded job into a queue entry. On PostgreSQL it also issues
  `pg_notify`, which PostgreSQL delivers only when the transaction commits, so an idle worker
  wakes exactly when the job can be claimed. With `VE_QUEUE=pubsub` it writes an outbox message
  in the same transaction; the relay publishes it afterwards.
* `request_cancel` cancels a waiting job at once and asks a running one to stop at its next
  checkpoint (the worker acknowledges with `CANCELED`).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from video_enhancer.config import Settings
from video_enhancer.errors import InvalidState
from video_enhancer.models import Job, JobStatus, OutboxMessage, Video, utcnow

NOTIFY_CHANNEL = "ve_jobs"
"""PostgreSQL LISTEN/NOTIFY channel; the payload is the job id."""

ENQUEUEABLE = frozenset({JobStatus.AWAITING_UPLOAD, JobStatus.UPLOADED})
CANCEL_AT_ONCE = frozenset({JobStatus.AWAITING_UPLOAD, JobStatus.UPLOADED, JobStatus.QUEUED})


def queue_rank(queued_at: datetime, priority: int, aging_seconds: int) -> float:
    """Claim order (ascending): a job of priority p counts as queued p x aging seconds earlier.

    So a higher plan jumps ahead of lower ones by a bounded amount of time, and a waiting FREE
    job is overtaken only by jobs queued less than `priority x aging_seconds` after it.
    """
    return queued_at.timestamp() - priority * aging_seconds


def enqueue_job(session: Session, job: Job, settings: Settings) -> None:
    """Move an uploaded job to QUEUED in the caller's transaction (idempotent when already QUEUED)."""
    if job.status == JobStatus.QUEUED:
        return
    if job.status not in ENQUEUEABLE:
        raise InvalidState(f"A job in status {job.status} cannot be queued.")
    now = utcnow()
    job.status = JobStatus.QUEUED
    job.queued_at = now
    job.queue_rank = queue_rank(now, job.priority, settings.queue_aging_seconds)
    job.run_after = None
    session.flush()
    if settings.queue == "pubsub":
        _write_outbox_message(session, job, settings)
    elif session.get_bind().dialect.name == "postgresql":
        notify_workers(session, str(job.id))


def notify_workers(session: Session, payload: str = "") -> None:
    """Wake idle PostgreSQL workers when the current transaction commits."""
    session.execute(select(func.pg_notify(NOTIFY_CHANNEL, payload)))


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
            },
            attributes={"jobId": str(job.id)},
        )
    )
    session.flush()


def request_cancel(session: Session, job: Job) -> None:
    """Cancel a waiting job at once (hold released) or flag a running one for the worker.

    The change is a conditional UPDATE, so a worker claiming the job at the same moment either
    sees it CANCELED (and skips it) or has already made it PROCESSING (and gets the flag).
    Canceling a canceled job is a no-op; a COMPLETED or FAILED job cannot be canceled.
    """
    now = utcnow()
    canceled = session.scalar(
        update(Job)
        .where(Job.id == job.id, Job.status.in_(CANCEL_AT_ONCE))
        .values(
            status=JobStatus.CANCELED,
            minutes_held=0,
            completed_at=now,
            lease_owner=None,
            lease_expires_at=None,
            cancel_requested=True,
        )
        .returning(Job.id)
        .execution_options(synchronize_session=False)
    )
    if canceled is None:
        session.execute(
            update(Job)
            .where(Job.id == job.id, Job.status == JobStatus.PROCESSING)
            .values(cancel_requested=True)
            .execution_options(synchronize_session=False)
        )
    session.refresh(job)
    if job.status in (JobStatus.COMPLETED, JobStatus.FAILED):
        raise InvalidState(f"A {job.status} job cannot be canceled.")
