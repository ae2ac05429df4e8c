"""Reading and canceling one's own jobs."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy.orm import Session

from video_enhancer.errors import InvalidState
from video_enhancer.jobs import repository
from video_enhancer.jobs.errors import JobNotFound
from video_enhancer.jobs.lifecycle import request_cancel
from video_enhancer.models import Job, JobStatus, User


def get_job(session: Session, user: User, job_id: uuid.UUID) -> Job:
    job = repository.get_owned_job(session, user.id, job_id)
    if job is None:
        raise JobNotFound()
    return job


def list_jobs(
    session: Session, user: User, status: JobStatus | None, limit: int, offset: int
) -> tuple[Sequence[Job], int]:
    jobs = repository.list_owned_jobs(session, user.id, status, limit, offset)
    return jobs, repository.count_owned_jobs(session, user.id, status)


def cancel_job(session: Session, user: User, job_id: uuid.UUID) -> Job:
    """Cancel a waiting job at once (its hold released); ask a running one to stop at its next checkpoint."""
    job = repository.get_owned_job(session, user.id, job_id, lock=True)
    if job is None:
        raise JobNotFound()
    if job.status.is_terminal:
        raise InvalidState(f"The job is already {job.status}.")
    request_cancel(session, job)
    return job
