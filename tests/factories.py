"""Rows written straight to the database, for tests of code that reads them.

Two families: `make_user`/`make_job` give a PRO user and an uploaded job ready to queue (queue,
worker and cloud tests); `add_user`/`add_job`/`add_usage`/`finished_job` give rows in any state
with chosen timestamps (operations and admin tests). The service never imports this module.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from video_enhancer.auth.tokens import create_access_token
from video_enhancer.billing.plans import limits_for
from video_enhancer.config import Settings
from video_enhancer.models import Job, JobStatus, Plan, UsageEntry, User, Video, utcnow


def make_user(session: Session, plan: Plan = Plan.PRO) -> User:
    return add_user(session, plan=plan)


def make_job(
    session: Session,
    user: User,
    *,
    status: JobStatus = JobStatus.UPLOADED,
    claimed_seconds: float = 5.0,
    minutes_held: int = 1,
    storage_path: str | None = None,
    max_attempts: int = 3,
) -> Job:
    limits = limits_for(user.plan)
    video_id = uuid.uuid4()
    video = Video(
        id=video_id,
        user_id=user.id,
        original_filename="clip.mp4",
        content_type="video/mp4",
        size_bytes=1000,
        claimed_duration_seconds=claimed_seconds,
        storage_path=storage_path or f"users/{user.id}/videos/{video_id}/source.mp4",
        upload_expires_at=utcnow() + timedelta(hours=1),
    )
    session.add(video)
    session.flush()
    job = Job(
        user_id=user.id,
        video_id=video.id,
        status=status,
        priority=limits.queue_priority,
        minutes_held=minutes_held,
        max_duration_seconds=limits.max_duration_seconds,
        max_output_height=limits.max_output_height,
        max_attempts=max_attempts,
        request_id=f"req-{uuid.uuid4().hex[:8]}",
    )
    session.add(job)
    session.flush()
    return job


def add_user(
    session: Session, *, email: str | None = None, plan: Plan = Plan.FREE, is_admin: bool = False
) -> User:
    user = User(
        email=email or f"user-{uuid.uuid4().hex[:12]}@example.com",
        password_hash="not-a-real-hash",
        plan=plan,
        is_admin=is_admin,
    )
    session.add(user)
    session.flush()
    return user


def add_job(
    session: Session,
    user: User,
    status: JobStatus,
    *,
    priority: int = 0,
    queued_at: datetime | None = None,
    started_at: datetime | None = None,
    completed_at: datetime | None = None,
    request_id: str | None = None,
) -> Job:
    video = Video(
        user_id=user.id,
        original_filename="clip.mp4",
        content_type="video/mp4",
        size_bytes=1000,
        claimed_duration_seconds=10.0,
        storage_path=f"users/{user.id}/videos/{uuid.uuid4()}/source",
    )
    session.add(video)
    session.flush()
    job = Job(
        user_id=user.id,
        video_id=video.id,
        status=status,
        priority=priority,
        queued_at=queued_at,
        started_at=started_at,
        completed_at=completed_at,
        request_id=request_id,
    )
    session.add(job)
    session.flush()
    return job


def add_usage(session: Session, user: User, job: Job, minutes: int, created_at: datetime) -> UsageEntry:
    entry = UsageEntry(
        user_id=user.id,
        job_id=job.id,
        minutes=minutes,
        measured_duration_seconds=minutes * 60.0,
        cycle_start=created_at - timedelta(days=1),
        created_at=created_at,
    )
    session.add(entry)
    session.flush()
    return entry


def finished_job(
    session: Session, user: User, status: JobStatus, seconds: float, now: datetime | None = None
) -> Job:
    """A job that ran for `seconds` and ended an hour before `now` in `status`."""
    completed = (now or utcnow()) - timedelta(hours=1)
    return add_job(
        session, user, status, started_at=completed - timedelta(seconds=seconds), completed_at=completed
    )


def bearer(user: User, settings: Settings) -> dict[str, str]:
    """Authorization headers for a user made here (no password: the token is signed directly)."""
    return {"Authorization": f"Bearer {create_access_token(user.id, settings)}"}
