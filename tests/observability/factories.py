"""Rows for operations tests: users, videos, jobs and usage entries written straight to the database.

Importable from `tests/admin` as `observability.factories` (this folder is a package).
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from video_enhancer.auth.tokens import create_access_token
from video_enhancer.config import Settings
from video_enhancer.models import Job, JobStatus, Plan, UsageEntry, User, Video, utcnow


def add_user(
    session: Session, *, email: str | None = None, plan: Plan = Plan.FREE, is_admin: bool = False
) -> User:
    user = User(
        email=email or f"user-{uuid.uuid4().hex[:8]}@example.com",
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
    return {"Authorization": f"Bearer {create_access_token(user.id, settings)}"}


def metric_value(client: TestClient, name: str, labels: dict[str, str] | None = None) -> float | None:
    """The value of one sample of `/metrics`, or None when that sample is not exposed."""
    from prometheus_client.parser import text_string_to_metric_families

    wanted = labels or {}
    response = client.get("/metrics")
    assert response.status_code == 200, response.text
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in wanted.items()):
                return float(sample.value)
    return None
