"""Uploaded originals of jobs that will never run again are deleted after a retention period.

A FAILED or CANCELED job (an upload that expired is a canceled job) keeps its original for
`VE_RAW_RETENTION_HOURS` (enough to look into a failure), then the periodic sweep of the worker
process deletes it and records when on the video, so the sweep never visits it again. An
original is kept while any job of its video may still need it (one that is not failed or
canceled).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import and_, exists, select
from sqlalchemy.orm import Session, aliased

from video_enhancer.config import Settings
from video_enhancer.models import Job, JobStatus, Video
from video_enhancer.storage.base import Storage

ENDED_WITHOUT_RESULT = (JobStatus.FAILED, JobStatus.CANCELED)
_BATCH = 100


def delete_expired_raw_uploads(session: Session, settings: Settings, storage: Storage, now: datetime) -> int:
    """Delete the originals whose retention has passed; returns how many."""
    cutoff = now - timedelta(hours=settings.raw_retention_hours)
    videos = videos_past_raw_retention(session, cutoff, _BATCH)
    for video in videos:
        storage.delete("raw", video.storage_path)
        video.raw_deleted_at = now
    session.flush()
    return len(videos)


def videos_past_raw_retention(session: Session, cutoff: datetime, limit: int) -> Sequence[Video]:
    """Videos whose originals are still stored, with a job that ended without a result before
    `cutoff` and no job that could still use them."""
    other = aliased(Job)
    still_needed = exists().where(and_(other.video_id == Video.id, other.status.not_in(ENDED_WITHOUT_RESULT)))
    query = (
        select(Video)
        .join(Job, Job.video_id == Video.id)
        .where(
            Video.raw_deleted_at.is_(None),
            Job.status.in_(ENDED_WITHOUT_RESULT),
            Job.completed_at < cutoff,
            ~still_needed,
        )
        .order_by(Job.completed_at)
        .limit(limit)
        .with_for_update(skip_locked=True, of=Video)
    )
    return session.scalars(query).unique().all()
