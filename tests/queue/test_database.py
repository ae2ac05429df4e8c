"""Claim order, leases, stalled-job recovery and the ways a claim ends, on both databases."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from factories import make_job, make_user
from video_enhancer.billing.service import minutes_held
from video_enhancer.config import Settings
from video_enhancer.jobs.lifecycle import (
    WORKER_LOST,
    acknowledge_cancel,
    claim_job_by_id,
    claim_next_job,
    complete_job,
    enqueue_job,
    fail_job,
    hand_back_job,
    request_cancel,
    requeue_expired_leases,
    retry_job,
)
from video_enhancer.models import Job, JobStatus, Plan, UsageEntry, User, Video, utcnow
from video_enhancer.queue.database import (
    ClaimedJob,
    CompletedOutput,
    extend_lease,
    record_progress,
    retry_delay_seconds,
)

Factory = sessionmaker[Session]


def _queued(session: Session, settings: Settings, plan: Plan = Plan.PRO, **kwargs: object) -> Job:
    job = make_job(session, make_user(session, plan), **kwargs)  # type: ignore[arg-type]
    enqueue_job(session, job, settings)
    session.commit()
    return job


def _reload(session_factory: Factory, job: Job) -> Job:
    with session_factory() as s:
        fresh = s.get(Job, job.id)
        assert fresh is not None
        return fresh


def _output(seconds: float = 61.0) -> CompletedOutput:
    return CompletedOutput(
        measured_seconds=seconds,
        output_storage_path="users/u/videos/v/enhanced-j.mp4",
        output_resolution="1280x720",
        output_size_bytes=1234,
        enhancer="lanczos",
        result={"enhancer": "lanczos", "classical": True},
    )


def test_claim_takes_job_and_sets_lease(
    session: Session, session_factory: Factory, settings: Settings
) -> None:
    job = _queued(session, settings)
    now = utcnow()
    claimed = claim_next_job(session_factory, "w1", 60, now=now)
    assert claimed is not None and claimed.job_id == job.id
    assert claimed.attempts == 1 and claimed.request_id == job.request_id
    fresh = _reload(session_factory, job)
    assert fresh.status == JobStatus.PROCESSING and fresh.lease_owner == "w1"
    assert fresh.lease_expires_at == pytest.approx(now + timedelta(seconds=60), abs=timedelta(milliseconds=1))
    assert fresh.started_at is not None
    assert claim_next_job(session_factory, "w2", 60) is None


def test_claim_order_priority_then_age(
    session: Session, session_factory: Factory, settings: Settings
) -> None:
    free = _queued(session, settings, Plan.FREE)
    creator = _queued(session, settings, Plan.CREATOR)
    pro_old = _queued(session, settings, Plan.PRO)
    pro_new = _queued(session, settings, Plan.PRO)
    order = [claim_next_job(session_factory, "w", 60) for _ in range(4)]
    assert [c.job_id for c in order if c] == [pro_old.id, pro_new.id, creator.id, free.id]


def test_aging_bounds_a_free_jobs_wait(
    session: Session, session_factory: Factory, settings: Settings
) -> None:
    """A PRO job queued more than 2 x aging after a FREE job no longer overtakes it."""
    aging = settings.queue_aging_seconds
    free = _queued(session, settings, Plan.FREE)
    pro_soon = _queued(session, settings, Plan.PRO)
    pro_late = _queued(session, settings, Plan.PRO)
    assert free.queued_at is not None
    # Place the PRO jobs in time: one within the bounded jump, one past it.
    for job, offset in ((pro_soon, 2 * aging - 10), (pro_late, 2 * aging + 10)):
        job.queued_at = free.queued_at + timedelta(seconds=offset)
        job.queue_rank = job.queued_at.timestamp() - 2 * aging
    session.commit()
    order = [claim_next_job(session_factory, "w", 60) for _ in range(3)]
    assert [c.job_id for c in order if c] == [pro_soon.id, free.id, pro_late.id]


def test_run_after_delays_claim(session: Session, session_factory: Factory, settings: Settings) -> None:
    job = _queued(session, settings)
    job.run_after = utcnow() + timedelta(seconds=30)
    session.commit()
    assert claim_next_job(session_factory, "w", 60) is None
    claimed = claim_next_job(session_factory, "w", 60, now=utcnow() + timedelta(seconds=31))
    assert claimed is not None and claimed.job_id == job.id


@pytest.mark.parametrize("status", [JobStatus.UPLOADED, JobStatus.COMPLETED, JobStatus.CANCELED])
def test_claim_by_id_only_when_queued(session: Session, session_factory: Factory, status: JobStatus) -> None:
    job = make_job(session, make_user(session), status=status)
    session.commit()
    assert claim_job_by_id(session_factory, job.id, "w", 60) is None


def test_claim_by_id_once(session: Session, session_factory: Factory, settings: Settings) -> None:
    job = _queued(session, settings)
    first = claim_job_by_id(session_factory, job.id, "w1", 60)
    assert first is not None and first.worker_id == "w1"
    assert claim_job_by_id(session_factory, job.id, "w2", 60) is None  # running elsewhere


def test_extend_lease_only_by_owner(session: Session, session_factory: Factory, settings: Settings) -> None:
    _queued(session, settings)
    claimed = claim_next_job(session_factory, "w1", 10)
    assert claimed is not None
    assert extend_lease(session_factory, claimed, 300)
    fresh = _reload(session_factory, Job(id=claimed.job_id))
    assert fresh.lease_expires_at is not None and fresh.lease_expires_at > utcnow() + timedelta(seconds=200)
    impostor = ClaimedJob(**{**_fields(claimed), "worker_id": "w2"})
    assert not extend_lease(session_factory, impostor, 300)


def _fields(claimed: ClaimedJob) -> dict[str, object]:
    return {name: getattr(claimed, name) for name in ClaimedJob.__slots__}


def test_expired_lease_requeues_then_fails(
    session: Session, session_factory: Factory, settings: Settings
) -> None:
    user = make_user(session)
    job = make_job(session, user, max_attempts=2, minutes_held=3)
    enqueue_job(session, job, settings)
    session.commit()
    later = utcnow()
    for attempt in (1, 2):
        claimed = claim_next_job(session_factory, f"w{attempt}", 5, now=later)
        assert claimed is not None and claimed.attempts == attempt
        later += timedelta(seconds=6)
        recovered = requeue_expired_leases(session_factory, now=later)
        if attempt == 1:
            assert recovered.requeued == 1 and recovered.failed == 0
            assert not extend_lease(session_factory, claimed, 60)  # the old owner has lost it
    assert recovered.failed == 1
    fresh = _reload(session_factory, job)
    assert fresh.status == JobStatus.FAILED and fresh.error_code == WORKER_LOST
    assert fresh.minutes_held == 0 and fresh.minutes_charged is None
    assert minutes_held(session, user.id) == 0


def test_live_lease_is_not_recovered(session: Session, session_factory: Factory, settings: Settings) -> None:
    _queued(session, settings)
    assert claim_next_job(session_factory, "w", 60) is not None
    assert requeue_expired_leases(session_factory).requeued == 0


def test_expired_lease_with_cancel_request_is_canceled(
    session: Session, session_factory: Factory, settings: Settings
) -> None:
    job = _queued(session, settings)
    assert claim_next_job(session_factory, "w", 1) is not None
    with session_factory() as s:
        request_cancel(s, s.get(Job, job.id))  # type: ignore[arg-type]
        s.commit()
    recovered = requeue_expired_leases(session_factory, now=utcnow() + timedelta(seconds=5))
    assert recovered.canceled == 1 and recovered.requeued == 0
    assert _reload(session_factory, job).status == JobStatus.CANCELED


def test_complete_charges_once_and_writes_output(
    session: Session, session_factory: Factory, settings: Settings
) -> None:
    job = _queued(session, settings, minutes_held=2)
    claimed = claim_next_job(session_factory, "w", 60)
    assert claimed is not None
    assert complete_job(session_factory, claimed, _output(61.0)) == 2
    assert complete_job(session_factory, claimed, _output(61.0)) is None
    with session_factory() as s:
        fresh = s.get(Job, job.id)
        user = s.get(User, job.user_id)
        video = s.get(Video, job.video_id)
        assert fresh is not None and user is not None and video is not None
        assert fresh.status == JobStatus.COMPLETED and fresh.minutes_charged == 2
        assert fresh.progress_percent == 100 and fresh.minutes_held == 0 and fresh.completed_at is not None
        assert fresh.enhancer == "lanczos" and fresh.result == {"enhancer": "lanczos", "classical": True}
        assert user.minutes_used_this_month == 2
        assert video.output_storage_path == "users/u/videos/v/enhanced-j.mp4"
        assert video.output_resolution == "1280x720" and video.output_size_bytes == 1234
        assert len(s.scalars(select(UsageEntry)).all()) == 1


def test_concurrent_completion_charges_once(
    session: Session, session_factory: Factory, settings: Settings
) -> None:
    job = _queued(session, settings)
    claimed = claim_next_job(session_factory, "w", 60)
    assert claimed is not None
    results: list[int | None] = []
    barrier = threading.Barrier(2)

    def complete() -> None:
        barrier.wait()
        results.append(complete_job(session_factory, claimed, _output(30.0)))

    threads = [threading.Thread(target=complete) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results, key=lambda r: r is None) == [1, None]
    with session_factory() as s:
        assert len(s.scalars(select(UsageEntry).where(UsageEntry.job_id == job.id)).all()) == 1
        user = s.get(User, job.user_id)
        assert user is not None and user.minutes_used_this_month == 1


def test_completion_after_lost_lease_charges_nothing(
    session: Session, session_factory: Factory, settings: Settings
) -> None:
    _queued(session, settings)
    first = claim_next_job(session_factory, "w1", 1)
    assert first is not None
    requeue_expired_leases(session_factory, now=utcnow() + timedelta(seconds=5))
    second = claim_next_job(session_factory, "w2", 60)
    assert second is not None and second.job_id == first.job_id and second.attempts == 2
    assert complete_job(session_factory, first, _output()) is None
    assert complete_job(session_factory, second, _output()) == 2


def test_fail_releases_hold_and_charges_nothing(
    session: Session, session_factory: Factory, settings: Settings
) -> None:
    job = _queued(session, settings, minutes_held=4)
    claimed = claim_next_job(session_factory, "w", 60)
    assert claimed is not None
    assert fail_job(session_factory, claimed, "INVALID_VIDEO", "The file is not a video we can read.")
    fresh = _reload(session_factory, job)
    assert fresh.status == JobStatus.FAILED and fresh.error_code == "INVALID_VIDEO"
    assert fresh.minutes_held == 0 and fresh.minutes_charged is None and fresh.lease_owner is None
    assert not fail_job(session_factory, claimed, "INVALID_VIDEO", "again")  # not ours any more


def test_retry_backs_off_then_fails_at_max(
    session: Session, session_factory: Factory, settings: Settings
) -> None:
    job = _queued(session, settings, max_attempts=2)
    now = utcnow()
    claimed = claim_next_job(session_factory, "w", 60, now=now)
    assert claimed is not None
    assert (
        retry_job(session_factory, claimed, "STORAGE_UNAVAILABLE", "Storage is down.", now=now)
        == JobStatus.QUEUED
    )
    fresh = _reload(session_factory, job)
    assert fresh.run_after is not None
    delay = (fresh.run_after - now).total_seconds()
    assert 2.5 <= delay <= 5.0  # first retry: 5 s x jitter 0.5-1.0
    assert claim_next_job(session_factory, "w", 60, now=now) is None
    claimed = claim_next_job(session_factory, "w", 60, now=now + timedelta(seconds=6))
    assert claimed is not None and claimed.attempts == 2
    assert retry_job(session_factory, claimed, "STORAGE_UNAVAILABLE", "Storage is down.") == JobStatus.FAILED
    fresh = _reload(session_factory, job)
    assert fresh.status == JobStatus.FAILED and fresh.error_code == "STORAGE_UNAVAILABLE"


def test_retry_delay_grows_and_is_capped() -> None:
    import random

    rng = random.Random(7)
    delays = [retry_delay_seconds(n, rng) for n in (1, 2, 3, 4, 20)]
    assert 2.5 <= delays[0] <= 5 and 5 <= delays[1] <= 10 and 10 <= delays[2] <= 20
    assert 150 <= delays[4] <= 300


def test_acknowledge_cancel(session: Session, session_factory: Factory, settings: Settings) -> None:
    job = _queued(session, settings, minutes_held=2)
    claimed = claim_next_job(session_factory, "w", 60)
    assert claimed is not None
    assert acknowledge_cancel(session_factory, claimed)
    fresh = _reload(session_factory, job)
    assert fresh.status == JobStatus.CANCELED and fresh.minutes_held == 0 and fresh.minutes_charged is None


def test_hand_back_does_not_count_attempt(
    session: Session, session_factory: Factory, settings: Settings
) -> None:
    job = _queued(session, settings)
    claimed = claim_next_job(session_factory, "w1", 60)
    assert claimed is not None
    assert hand_back_job(session_factory, claimed)
    fresh = _reload(session_factory, job)
    assert fresh.status == JobStatus.QUEUED and fresh.attempts == 0 and fresh.lease_owner is None
    again = claim_next_job(session_factory, "w2", 60)
    assert again is not None and again.job_id == job.id and again.attempts == 1


_LIVE = {"stage": "enhancing", "progress_percent": 40.0, "fps": 12.5, "eta_seconds": 30.0}


@pytest.mark.parametrize("way_out", ["complete", "fail", "retry", "cancel", "hand_back", "lease_expiry"])
def test_leaving_processing_clears_live_progress(
    session: Session, session_factory: Factory, settings: Settings, way_out: str
) -> None:
    """Stage, speed and ETA describe a running job; no finished or waiting job keeps stale ones."""
    job = _queued(session, settings)
    claimed = claim_next_job(session_factory, "w", 60)
    assert claimed is not None and record_progress(session_factory, claimed, _LIVE)
    assert _reload(session_factory, job).stage == "enhancing"
    if way_out == "complete":
        assert complete_job(session_factory, claimed, _output()) is not None
    elif way_out == "fail":
        assert fail_job(session_factory, claimed, "INVALID_VIDEO", "Bad file.")
    elif way_out == "retry":
        assert retry_job(session_factory, claimed, "STORAGE_UNAVAILABLE", "Down.") == JobStatus.QUEUED
    elif way_out == "cancel":
        assert acknowledge_cancel(session_factory, claimed)
    elif way_out == "hand_back":
        assert hand_back_job(session_factory, claimed)
    else:
        recovered = requeue_expired_leases(session_factory, now=utcnow() + timedelta(seconds=120))
        assert recovered.requeued == 1
    fresh = _reload(session_factory, job)
    assert fresh.status != JobStatus.PROCESSING
    assert (fresh.stage, fresh.fps, fresh.eta_seconds) == (None, None, None)
