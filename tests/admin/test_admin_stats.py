"""`compute_stats` against seeded jobs, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy.orm import Session

from factories import add_job, add_usage, add_user, finished_job
from video_enhancer.admin.stats import compute_stats, format_stats_table, stats_as_dict
from video_enhancer.models import JobStatus, Plan, utcnow


def _seed(session: Session) -> None:
    now = utcnow()
    user = add_user(session, plan=Plan.PRO)
    for seconds in (60.0, 120.0, 300.0):
        job = finished_job(session, user, JobStatus.COMPLETED, seconds, now)
        add_usage(session, user, job, minutes=int(seconds // 60), created_at=now - timedelta(days=2))
    old = finished_job(session, user, JobStatus.COMPLETED, 30.0, now)
    add_usage(session, user, old, minutes=7, created_at=now - timedelta(days=31))  # outside 30 days
    finished_job(session, user, JobStatus.FAILED, 10.0, now)
    finished_job(session, user, JobStatus.CANCELED, 10.0, now)
    add_job(session, user, JobStatus.QUEUED, priority=2, queued_at=now - timedelta(seconds=120))
    add_job(session, user, JobStatus.QUEUED, priority=0, queued_at=now - timedelta(seconds=900))
    add_job(session, user, JobStatus.QUEUED, priority=0, queued_at=now - timedelta(seconds=60))
    add_job(session, user, JobStatus.PROCESSING, priority=2, queued_at=now - timedelta(hours=1))
    session.commit()


def test_numbers_match_the_seeded_jobs(session: Session) -> None:
    _seed(session)
    stats = compute_stats(session)
    assert stats.jobs_by_status == {
        "AWAITING_UPLOAD": 0,
        "UPLOADED": 0,
        "QUEUED": 3,
        "PROCESSING": 1,
        "COMPLETED": 4,
        "FAILED": 1,
        "CANCELED": 1,
    }
    assert stats.completed_jobs == 4 and stats.failed_jobs == 1
    assert stats.average_processing_seconds == pytest.approx((60 + 120 + 300 + 30) / 4, abs=0.01)
    assert stats.error_rate == pytest.approx(1 / 5)  # the canceled job is not an error
    assert stats.minutes_charged_last_30_days == 1 + 2 + 5
    queue = {entry.priority: entry for entry in stats.queue}
    assert {p: q.depth for p, q in queue.items()} == {0: 2, 1: 0, 2: 1}
    assert queue[0].oldest_age_seconds == pytest.approx(900, abs=30)
    assert queue[2].oldest_age_seconds == pytest.approx(120, abs=30)
    assert queue[1].oldest_age_seconds is None
    assert queue[2].priority_name == "high"
    assert stats.oldest_queued_age_seconds == queue[0].oldest_age_seconds


def test_an_explicit_now_moves_the_ages_and_the_window(session: Session) -> None:
    _seed(session)
    later = utcnow() + timedelta(days=29)
    stats = compute_stats(session, now=later)
    assert stats.minutes_charged_last_30_days == 0  # the entries are now 31 days old
    assert stats.oldest_queued_age_seconds == pytest.approx(29 * 86400 + 900, abs=30)


def test_an_empty_database_has_no_averages(session: Session) -> None:
    stats = compute_stats(session)
    assert sum(stats.jobs_by_status.values()) == 0
    assert stats.average_processing_seconds is None and stats.error_rate is None
    assert stats.oldest_queued_age_seconds is None and stats.minutes_charged_last_30_days == 0
    assert [entry.depth for entry in stats.queue] == [0, 0, 0]
    assert "Error rate                 -" in format_stats_table(stats)


def test_table_and_dict_render_the_same_numbers(session: Session) -> None:
    _seed(session)
    stats = compute_stats(session)
    table = format_stats_table(stats)
    assert "  QUEUED                 3" in table
    assert "Error rate                 20.0% (1 failed of 5 finished)" in table
    assert "Average processing time    127.5 s (4 completed)" in table
    assert "Minutes charged (30 days)  8" in table
    body = stats_as_dict(stats)
    assert body["jobs_by_status"]["COMPLETED"] == 4 and isinstance(body["generated_at"], str)
