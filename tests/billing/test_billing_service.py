"""Minutes accounting: rounding, 30-day cycles, holds and exactly-once charging."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from video_enhancer.billing.plans import PLANS, limits_for
from video_enhancer.billing.service import (
    charge_job,
    minutes_for_duration,
    minutes_held,
    roll_cycle_if_due,
    usage_for,
)
from video_enhancer.models import ACTIVE_STATUSES, Job, JobStatus, Plan, UsageEntry, User, Video, utcnow


def _user(session: Session, plan: Plan = Plan.CREATOR, **values: object) -> User:
    user = User(email=f"{uuid.uuid4().hex}@example.com", password_hash="x", plan=plan, **values)
    session.add(user)
    session.flush()
    return user


def _job(session: Session, user: User, status: JobStatus, minutes_held: int = 0) -> Job:
    video = Video(
        user_id=user.id,
        original_filename="clip.mp4",
        content_type="video/mp4",
        size_bytes=1,
        claimed_duration_seconds=1.0,
        storage_path=f"raw/{uuid.uuid4()}",
    )
    session.add(video)
    session.flush()
    job = Job(user_id=user.id, video_id=video.id, status=status, minutes_held=minutes_held)
    session.add(job)
    session.flush()
    return job


@pytest.mark.parametrize(
    ("seconds", "minutes"), [(0, 0), (0.1, 1), (59.9, 1), (60, 1), (60.01, 2), (125, 3), (300, 5)]
)
def test_minutes_are_the_duration_rounded_up(seconds: float, minutes: int) -> None:
    assert minutes_for_duration(seconds) == minutes


def test_plans_order_priority_pro_creator_free() -> None:
    free, creator, pro = (limits_for(plan) for plan in (Plan.FREE, Plan.CREATOR, Plan.PRO))
    assert pro.queue_priority > creator.queue_priority > free.queue_priority
    assert [free.priority_name, creator.priority_name, pro.priority_name] == ["low", "normal", "high"]
    assert set(PLANS) == set(Plan)


def test_a_cycle_rolls_over_at_30_days_and_skips_whole_missed_cycles(session: Session) -> None:
    now = utcnow()
    user = _user(session, billing_cycle_start=now - timedelta(days=95), minutes_used_this_month=12)

    roll_cycle_if_due(user, now)

    assert user.billing_cycle_start == now - timedelta(days=5)  # 95 days = 3 cycles + 5 days
    assert user.minutes_used_this_month == 0


def test_a_cycle_ends_exactly_30_days_after_it_starts(session: Session) -> None:
    now = utcnow()
    running = _user(session, billing_cycle_start=now - timedelta(days=30) + timedelta(seconds=1))
    ended = _user(session, billing_cycle_start=now - timedelta(days=30), minutes_used_this_month=3)
    running.minutes_used_this_month = 3

    roll_cycle_if_due(running, now)
    roll_cycle_if_due(ended, now)

    assert running.minutes_used_this_month == 3
    assert (ended.billing_cycle_start, ended.minutes_used_this_month) == (now, 0)


def test_holds_count_only_active_jobs_of_the_user(session: Session) -> None:
    user, other = _user(session), _user(session)
    for status in JobStatus:
        _job(session, user, status, minutes_held=1)
    _job(session, other, JobStatus.QUEUED, minutes_held=50)

    assert minutes_held(session, user.id) == len(ACTIVE_STATUSES) == 4
    assert minutes_held(session, uuid.uuid4()) == 0


def test_a_job_is_charged_once(session: Session) -> None:
    user = _user(session)
    job = _job(session, user, JobStatus.PROCESSING, minutes_held=2)

    first = charge_job(session, job, user, measured_seconds=61)
    second = charge_job(session, job, user, measured_seconds=61)

    assert (first, second) == (2, 0)
    assert user.minutes_used_this_month == 2  # the job row is written by the lifecycle
    assert session.scalar(select(func.count()).select_from(UsageEntry)) == 1


def test_a_charge_after_the_cycle_ended_lands_in_the_new_cycle(session: Session) -> None:
    now = utcnow()
    user = _user(session, billing_cycle_start=now - timedelta(days=31), minutes_used_this_month=25)
    job = _job(session, user, JobStatus.PROCESSING, minutes_held=1)

    charge_job(session, job, user, measured_seconds=30)

    entry = session.scalar(select(UsageEntry))
    assert entry is not None
    assert user.minutes_used_this_month == 1
    assert entry.cycle_start == user.billing_cycle_start
    assert user.billing_cycle_start == now - timedelta(days=1)  # 31 days in: the second cycle


def test_usage_remaining_is_none_for_free_and_clamped_at_zero(session: Session) -> None:
    free = _user(session, plan=Plan.FREE)
    creator = _user(session, minutes_used_this_month=29)
    _job(session, creator, JobStatus.QUEUED, minutes_held=5)

    assert usage_for(session, free).minutes_remaining is None
    usage = usage_for(session, creator)
    assert (usage.minutes_used, usage.minutes_held, usage.minutes_remaining) == (29, 5, 0)
    assert usage.cycle_end - usage.cycle_start == timedelta(days=30)
