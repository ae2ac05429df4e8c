"""Queries for jobs, always scoped to their owner."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Select, and_, bindparam, func, select
from sqlalchemy.orm import Session

from video_enhancer.db import newest_page
from video_enhancer.jobs.outlook import outlook_columns
from video_enhancer.models import Job, JobStatus, User, table_of
from video_enhancer.users.repository import with_owner


def get_owned_job(
    session: Session, user_id: uuid.UUID, job_id: uuid.UUID, *, lock: bool = False
) -> Job | None:
    query = select(Job).where(Job.id == job_id, Job.user_id == user_id)
    if lock:
        query = query.with_for_update().execution_options(populate_existing=True)
    return session.scalars(query).first()


def _listed_jobs(by_status: bool) -> Select[Any]:
    """The caller's account (`owner_deleted_at`; no row when it does not exist), their count of
    jobs (`total`) and a page of them, newest first: one row per job, or one row of NULL job
    columns when the page is empty. Bind parameters: `user_id`, `limit`, `offset` and, `by_status`,
    `status`."""
    jobs = table_of(Job)
    owned = jobs.c.user_id == bindparam("user_id")
    if by_status:
        owned = and_(owned, jobs.c.status == bindparam("status"))
    page = newest_page(jobs, owned)
    return with_owner(page, select(func.count()).select_from(jobs).where(owned).scalar_subquery())


# Built once: `GET /jobs` is polled, and building a statement costs more than running it.
_LISTED_JOBS = {by_status: _listed_jobs(by_status) for by_status in (False, True)}


def listed_jobs_query(
    user_id: uuid.UUID, status: JobStatus | None, limit: int, offset: int
) -> tuple[Select[Any], dict[str, Any]]:
    """`_listed_jobs` with its parameters: for `RequestSessions.rows`."""
    parameters: dict[str, Any] = {"user_id": user_id, "limit": limit, "offset": offset}
    if status is not None:
        parameters["status"] = status
    return _LISTED_JOBS[status is not None], parameters


def jobs_of_video(session: Session, video_id: uuid.UUID) -> list[Job]:
    """The video's jobs, newest first."""
    query = select(Job).where(Job.video_id == video_id).order_by(Job.created_at.desc(), Job.id.desc())
    return list(session.scalars(query))


def _polled_job() -> Select[Any]:
    """The caller's account (`owner_deleted_at`; no row when it does not exist) with the job when
    it is theirs (its columns are NULL otherwise) and the job's queue outlook (`jobs.outlook`)."""
    users, jobs = table_of(User), table_of(Job)
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
