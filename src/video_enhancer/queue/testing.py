"""Rows for tests of code around the queue: a user, an uploaded video and its job, written directly.

Used by the queue, worker and end-to-end tests; nothing in the service imports it.
"""

from __future__ import annotations

import uuid
from datetime import timedelta

from sqlalchemy.orm import Session

from video_enhancer.billing.plans import limits_for
from video_enhancer.models import Job, JobStatus, Plan, User, Video, utcnow


def make_user(session: Session, plan: Plan = Plan.PRO) -> User:
    user = User(email=f"{uuid.uuid4().hex[:12]}@example.com", password_hash="x", plan=plan)
    session.add(user)
    session.flush()
    return user


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
