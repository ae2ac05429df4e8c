"""Queries for jobs, always scoped to their owner."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Select, Table, and_, bindparam, func, select
from sqlalchemy.orm import Session

from video_enhancer.jobs.outlook import outlook_columns
from video_enhancer.models import Job, JobStatus, User


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


_JOBS_OF_VIDEOS = (
    select(Job)
    .where(Job.video_id.in_(bindparam("video_ids", expanding=True)))
    .order_by(Job.created_at.desc(), Job.id.desc())
)


def jobs_for_videos(session: Session, video_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, list[Job]]:
    """Each video's jobs, newest first, in one query."""
    by_video: dict[uuid.UUID, list[Job]] = {video_id: [] for video_id in video_ids}
    if not video_ids:
        return by_video
    for job in session.scalars(_JOBS_OF_VIDEOS, {"video_ids": list(video_ids)}):
        by_video[job.video_id].append(job)
    return by_video


def _table(model: type[Job] | type[User]) -> Table:
    table = model.__table__
    assert isinstance(table, Table)
    return table


def _polled_job() -> Select[Any]:
    """The caller's account (`owner_deleted_at`; no row when it does not exist) with the job when
    it is theirs (its columns are NULL otherwise) and the job's queue outlook (`jobs.outlook`)."""
    users, jobs = _table(User), _table(Job)
    owned = and_(jobs.c.user_id == users.c.id, jobs.c.id == bindparam("job_id"))
    return (
        select(users.c.deleted_at.label("owner_deleted_at"), *jobs.c, *outlook_columns(jobs))
        .select_from(users.outerjoin(jobs, owned))
        .where(users.c.id == bindparam("user_id"))
    )


# Built once: this is what apps poll, and building a statement costs more than running it.
_POLLED_JOB = _polled_job()


def polled_job_query(
    user_id: uuid.UUID, job_id: uuid.UUID, live_since: datetime
) -> tuple[Select[Any], dict[str, Any]]:
    """Account check, owned job and queue outlook in one statement (`_polled_job`), with its
    parameters: for `RequestSessions.first`."""
    return _POLLED_JOB, {"user_id": user_id, "job_id": job_id, "live_since": live_since}
