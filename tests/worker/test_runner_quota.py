"""A clip longer than its ticket claimed: the measured minutes are held before any decode.

The upload held 1 minute for a claimed 1 s; the clip really lasts 61 s (2 minutes). With a
minute left the job takes it and completes, charged 2; with none left it fails with
QUOTA_EXCEEDED before a single frame is decoded, and nothing is charged.
"""

from __future__ import annotations

from sqlalchemy import select

from media.clips import ClipLibrary, ClipSpec
from video_enhancer.config import Settings
from video_enhancer.models import Job, JobStatus, Plan, UsageEntry, User
from video_enhancer.storage.base import Storage
from video_enhancer.worker.runner import JobRunner, Outcome
from worker.support import Factory, HookedLanczos, claim, queue_file

LYING = ClipSpec(name="lying-61s", width=32, height=32, fps=1, seconds=61.0)


def _queue_lying_job(
    factory: Factory, storage: Storage, settings: Settings, clips: ClipLibrary, used: int
) -> Job:
    job = queue_file(
        factory,
        storage,
        settings,
        clips.get(LYING).path,
        plan=Plan.CREATOR,
        claimed_seconds=1.0,
        minutes_held=1,
    )
    with factory.begin() as session:
        user = session.get(User, job.user_id)
        assert user is not None
        user.minutes_used_this_month = used
    return job


def _settled(factory: Factory, job: Job) -> tuple[Job, User, list[UsageEntry]]:
    with factory() as session:
        fresh, user = session.get(Job, job.id), session.get(User, job.user_id)
        assert fresh is not None and user is not None
        ledger = list(session.scalars(select(UsageEntry).where(UsageEntry.job_id == job.id)))
        return fresh, user, ledger


def test_no_minutes_left_fails_before_decoding_and_charges_nothing(
    session_factory: Factory, storage: Storage, worker_settings: Settings, clips: ClipLibrary
) -> None:
    job = _queue_lying_job(session_factory, storage, worker_settings, clips, used=29)  # 29 + 1 held = 30
    enhancer = HookedLanczos()
    outcome = JobRunner(worker_settings, session_factory, storage, enhancer).run(claim(session_factory))  # type: ignore[arg-type]

    assert (outcome.outcome, outcome.error_code) == (Outcome.FAILED, "QUOTA_EXCEEDED")
    assert enhancer.frames_seen == 0
    fresh, user, ledger = _settled(session_factory, job)
    assert (fresh.status, fresh.error_code, fresh.minutes_held, fresh.minutes_charged) == (
        JobStatus.FAILED,
        "QUOTA_EXCEEDED",
        0,
        None,
    )
    assert fresh.stage is None and fresh.frames_done is None
    assert user.minutes_used_this_month == 29 and ledger == []


def test_a_minute_left_is_taken_and_the_measured_minutes_charged(
    session_factory: Factory, storage: Storage, worker_settings: Settings, clips: ClipLibrary
) -> None:
    job = _queue_lying_job(session_factory, storage, worker_settings, clips, used=28)  # 1 minute left
    outcome = JobRunner(worker_settings, session_factory, storage, HookedLanczos()).run(
        claim(session_factory)
    )  # type: ignore[arg-type]

    assert (outcome.outcome, outcome.minutes_charged) == (Outcome.COMPLETED, 2)
    fresh, user, ledger = _settled(session_factory, job)
    assert (fresh.status, fresh.minutes_charged, fresh.minutes_held) == (JobStatus.COMPLETED, 2, 0)
    assert user.minutes_used_this_month == 30 and [entry.minutes for entry in ledger] == [2]
