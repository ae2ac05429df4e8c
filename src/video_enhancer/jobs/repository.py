"""Queries for jobs, always scoped to their owner."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from video_enhancer.models import Job, JobStatus


def get_owned_job(
    session: Session, user_id: uuid.UUID, job_id: uuid.UUID, *, lock: bool = False
) -> Job | None:
    query = select(Job).where(Job.id == job_id, Job.user_id == user_id)
    if lock:
        query = query.with_for_update().execution_options(populate_existing=True)
    return session.scalars(query).first()


def _owned(user_id: uuid.UUID, status: JobStatus | None) -> Select[Job]:
    query = select(Job).where(Job.user_id == user_id)
    return query if status is None else query.where(Job.status == status)


def list_owned_jobs(
    session: Session, user_id: uuid.UUID, status: JobStatus | None, limit: int, offset: int
) -> Sequence[Job]:
    query = _owned(user_id, status).order_by(Job.created_at.desc(), Job.id.desc()).limit(limit).offset(offset)
    return session.scalars(query).all()


def count_owned_jobs(session: Session, user_id: uuid.UUID, status: JobStatus | None) -> int:
    subquery = _owned(user_id, status).subquery()
    return int(session.scalar(select(func.count()).select_from(subquery)) or 0)


def jobs_for_videos(session: Session, video_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, list[Job]]:
    """Each video's jobs, newest first, in one query."""
    by_video: dict[uuid.UUID, list[Job]] = {video_id: [] for video_id in video_ids}
    if not video_ids:
        return by_video
    query = select(Job).where(Job.video_id.in_(video_ids)).order_by(Job.created_at.desc(), Job.id.desc())
    for job in session.scalars(query):
        by_video[job.video_id].append(job)
    return by_video
