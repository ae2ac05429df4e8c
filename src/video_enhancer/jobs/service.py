"""Reading and canceling one's own jobs."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select
from sqlalchemy.orm import Session

from video_enhancer.auth.tokens import caller_page, check_caller_row
from video_enhancer.catalogue.service import live_window
from video_enhancer.config import Settings
from video_enhancer.errors import InvalidState
from video_enhancer.jobs import repository
from video_enhancer.jobs.errors import JobNotFound
from video_enhancer.jobs.lifecycle import request_cancel
from video_enhancer.jobs.outlook import QueueOutlook, queue_outlook
from video_enhancer.models import Job, JobStatus, User
from video_enhancer.models.job import content_credentials_in


def get_job(session: Session, user: User, job_id: uuid.UUID) -> Job:
    job = repository.get_owned_job(session, user.id, job_id)
    if job is None:
        raise JobNotFound()
    return job


@dataclass(frozen=True, slots=True)
class PolledJob:
    """A job as `GET /jobs/{jobId}` shows it: its columns (and content credentials), its outlook."""

    fields: dict[str, Any]
    outlook: QueueOutlook


def poll_query(
    settings: Settings, user_id: uuid.UUID, job_id: uuid.UUID, now: datetime
) -> tuple[Select[Any], dict[str, Any]]:
    """`get_job` for apps that poll, as one statement: the account, the job and its outlook
    (`repository.polled_job_query`); its row makes the answer in `polled_job`."""
    return repository.polled_job_query(user_id, job_id, now - live_window(settings))


def polled_job(polled: Any, user_id: uuid.UUID, now: datetime) -> PolledJob:
    """The answer to a poll from the row of `poll_query`: the account check (a deleted account's
    token is refused at once, as `get_current_user` does), then the job and its outlook."""
    check_caller_row(polled, user_id)  # a 404 is logged with its caller
    if polled.id is None:
        raise JobNotFound()
    return PolledJob(_fields(polled), queue_outlook(polled, now))


def list_query(
    user_id: uuid.UUID, status: JobStatus | None, limit: int, offset: int
) -> tuple[Select[Any], dict[str, Any]]:
    """`GET /jobs` as one statement: the account, the count and a page of jobs
    (`repository.listed_jobs_query`); its rows make the answer in `listed_jobs`."""
    return repository.listed_jobs_query(user_id, status, limit, offset)


def listed_jobs(rows: Sequence[Any], user_id: uuid.UUID) -> tuple[list[dict[str, Any]], int]:
    """Each job's fields (with its content credentials) and the total, from the rows of
    `list_query`, after the account check."""
    page, total = caller_page(rows, user_id)
    return [_fields(row) for row in page], total


def _fields(row: Any) -> dict[str, Any]:
    """A job row's columns and its content credentials, as `JobOut` reads them."""
    return {**row._asdict(), "content_credentials": content_credentials_in(row.result)}


def cancel_job(session: Session, user: User, job_id: uuid.UUID) -> Job:
    """Cancel a waiting job at once (its hold released); ask a running one to stop at its next checkpoint."""
    job = repository.get_owned_job(session, user.id, job_id, lock=True)
    if job is None:
        raise JobNotFound()
    if job.status.is_terminal:
        raise InvalidState(f"The job is already {job.status}.")
    request_cancel(session, job)
    return job
