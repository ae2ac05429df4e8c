"""Which event each job lifecycle transition appends (called by `jobs.lifecycle._record`)."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from video_enhancer.batches.status import aggregate_status
from video_enhancer.events.service import append_event, append_job_event, progress_data, queued_data
from video_enhancer.models import Batch, EventType, Job, JobStatus, Video, utcnow

# Transition names of `jobs.lifecycle.Transition` -> the event types they append, in order.
EVENTS_BY_TRANSITION: dict[str, tuple[EventType, ...]] = {
    "UPLOAD_COMPLETED": (EventType.VIDEO_UPLOADED, EventType.JOB_QUEUED),
    "UPLOAD_STORED": (EventType.VIDEO_UPLOADED,),
    "STARTED": (EventType.JOB_QUEUED,),
    "CLAIMED": (EventType.JOB_PROCESSING,),
    "RETRIED": (EventType.JOB_QUEUED,),
    "HANDED_BACK": (EventType.JOB_QUEUED,),
    "LEASE_LOST_REQUEUED": (EventType.JOB_QUEUED,),
    "COMPLETED": (EventType.JOB_COMPLETED,),
    "FAILED": (EventType.JOB_FAILED,),
    "LEASE_LOST_FAILED": (EventType.JOB_FAILED,),
    "DEAD_LETTERED": (EventType.JOB_FAILED,),
    "CANCELED": (EventType.JOB_CANCELED,),
    "CANCEL_ACKNOWLEDGED": (EventType.JOB_CANCELED,),
    "LEASE_LOST_CANCELED": (EventType.JOB_CANCELED,),
    "UPLOAD_EXPIRED": (EventType.JOB_CANCELED,),
}


def append_transition_events(session: Session, transition: str, job_id: uuid.UUID) -> None:
    types = EVENTS_BY_TRANSITION.get(transition, ())
    if not types:
        return
    # The transition's UPDATE bypassed the identity map: read the row as committed by it.
    job = session.scalars(select(Job).where(Job.id == job_id).execution_options(populate_existing=True)).one()
    for event_type in types:
        if event_type is EventType.VIDEO_UPLOADED:
            append_video_uploaded(session, job)
        else:
            append_job_event(session, event_type, job, **_fields(session, event_type, job))
    if types[-1].ends_job and job.batch_id is not None:
        append_batch_completed(session, job.batch_id)


def append_batch_completed(session: Session, batch_id: uuid.UUID) -> None:
    """`batch.completed`, once, when the last job of the batch becomes final.

    The batch row is locked first: of two jobs finishing together, the second waits for the
    first to commit and then sees both final, so exactly one of them appends the event.
    """
    query = select(Batch).where(Batch.id == batch_id).with_for_update()
    batch = session.scalars(query.execution_options(populate_existing=True)).one_or_none()
    if batch is None or batch.completed_at is not None:
        return
    statuses = [JobStatus(s) for s in session.scalars(select(Job.status).where(Job.batch_id == batch_id))]
    if not all(status.is_terminal for status in statuses):
        return
    batch.completed_at = utcnow()
    data = {
        "batchId": str(batch.id),
        "status": aggregate_status(statuses),
        "videos": len(statuses),
        "completed": statuses.count(JobStatus.COMPLETED),
    }
    append_event(session, EventType.BATCH_COMPLETED, user_id=batch.user_id, data=data)


def append_video_uploaded(session: Session, job: Job) -> None:
    video = session.get(Video, job.video_id)
    data: dict[str, Any] = {"jobId": str(job.id), "videoId": str(job.video_id), "status": str(job.status)}
    if video is not None:
        data["sizeBytes"] = video.size_bytes
    append_event(
        session,
        EventType.VIDEO_UPLOADED,
        user_id=job.user_id,
        job_id=job.id,
        video_id=job.video_id,
        data=data,
    )


def append_progress(session: Session, job: Job) -> None:
    append_job_event(session, EventType.JOB_PROGRESS, job, **progress_data(job))


def _fields(session: Session, event_type: EventType, job: Job) -> dict[str, Any]:
    if event_type is EventType.JOB_QUEUED:
        return queued_data(session, job)
    if event_type is EventType.JOB_PROCESSING:
        return {"attempt": job.attempts}
    if event_type is EventType.JOB_COMPLETED:
        video = session.get(Video, job.video_id)
        return {
            "minutesCharged": job.minutes_charged,
            "outputSizeBytes": video.output_size_bytes if video is not None else None,
            "enhancer": job.enhancer,
        }
    if event_type is EventType.JOB_FAILED:
        return {"errorCode": job.error_code, "errorMessage": job.error_message}
    return {}
