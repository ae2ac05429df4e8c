"""Many upload requests at once can never oversubscribe a quota (user row lock / BEGIN IMMEDIATE)."""

from __future__ import annotations

import threading
import uuid
from concurrent.futures import ThreadPoolExecutor

from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from helpers import register_user
from video_enhancer.models import ACTIVE_STATUSES, Job, Plan, User
from video_helpers import request_upload

REQUESTS = 20


def _fire(client: TestClient, headers: dict[str, str], duration: float) -> list[int]:
    barrier = threading.Barrier(REQUESTS)

    def one(_: int) -> int:
        barrier.wait()
        return request_upload(client, headers, durationSeconds=duration).status_code

    with ThreadPoolExecutor(max_workers=REQUESTS) as pool:
        return list(pool.map(one, range(REQUESTS)))


def _held(session: Session, email: str) -> tuple[int, int, int]:
    user = session.scalars(select(User).where(User.email == email)).one()
    session.refresh(user)
    jobs = session.scalar(select(func.count(Job.id)).where(Job.user_id == user.id)) or 0
    held = session.scalar(
        select(func.coalesce(func.sum(Job.minutes_held), 0)).where(
            Job.user_id == user.id, Job.status.in_(ACTIVE_STATUSES)
        )
    )
    return user.videos_created, int(jobs), int(held or 0)


def test_free_plan_concurrent_requests_get_exactly_one_video(client: TestClient, session: Session) -> None:
    email = f"free-{uuid.uuid4().hex[:8]}@example.com"
    statuses = _fire(client, register_user(client, email), duration=10)
    assert sorted(statuses) == [201] + [403] * (REQUESTS - 1)
    assert _held(session, email) == (1, 1, 1)


def test_creator_minutes_are_never_oversubscribed(client: TestClient, session: Session) -> None:
    # 30 minutes per cycle; each request holds 2 minutes, so 15 fit and 5 must be refused.
    email = f"creator-{uuid.uuid4().hex[:8]}@example.com"
    statuses = _fire(client, register_user(client, email, plan=Plan.CREATOR), duration=120)
    assert statuses.count(201) == 15
    assert statuses.count(403) == REQUESTS - 15
    assert _held(session, email) == (15, 15, 30)
