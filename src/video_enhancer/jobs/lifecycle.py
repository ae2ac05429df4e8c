"""The job's lifecycle: the only code that changes a job's status (see docs/adr/0006-job-lifecycle.md).

Every transition is one function here. Each one

1. changes the job row with ONE conditional statement, ``UPDATE jobs SET status = <to>, ...
   WHERE id = ... AND status IN <allowed from> [AND <ownership / lease condition>]``, built by
   `_guarded` and `_target` from the `RULES` table, so a transition that is not allowed (or lost
   a race) changes nothing;
2. writes what goes with it in the same transaction: the usage ledger (completion), the quota
   hold (upload, measured minutes, every final status), the FREE plan's video ticket (given back
   by every final status but COMPLETED), the queue's wake-up or outbox message;
3. ends with `_record(session, transition, job_id, ...)`, the one hook every transition calls.
   Today it queues the metrics, which are counted when the transaction commits (and dropped
   when it rolls back); the job event log is one more line there.

Transitions that take the caller's session (API and sweeper: upload completed, cancel, upload
expired) never commit. The worker's transitions take a session factory and commit their own
short transaction, since the worker has no request around it.

Locks are taken in one order everywhere, jobs first, then users (sorted by id), then the
users' event counters (the `_record` hook), so two transitions never wait on each other in a
cycle.
"""

from __future__ import annotations

import enum
import uuid
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Row, event, func, select, update
from sqlalchemy.orm import Session, SessionTransaction

from video_enhancer.billing.service import charge_job, minutes_for_duration, usage_for
from video_enhancer.config import Settings
from video_enhancer.db import session_scope
from video_enhancer.errors import InvalidState
from video_enhancer.events.transitions import append_transition_events
from video_enhancer.models import ACTIVE_STATUSES, TERMINAL_STATUSES, Job, JobStatus, User, Video, utcnow
from video_enhancer.observability.metrics import JOB_RETRIES, MINUTES_CHARGED, record_job_finished
from video_enhancer.queue.database import (
    ClaimedJob,
    CompletedOutput,
    SessionFactory,
    at,
    is_postgres,
    next_job_id,
    owned_by,
    retry_delay_seconds,
)
from video_enhancer.queue.service import announce_queued, notify_workers, queue_rank

WORKER_LOST = "WORKER_LOST"
DELIVERY_EXHAUSTED = "DELIVERY_ATTEMPTS_EXHAUSTED"
UPLOAD_EXPIRED = "UPLOAD_EXPIRED"
QUOTA_EXCEEDED = "QUOTA_EXCEEDED"

_WAITING = frozenset({JobStatus.AWAITING_UPLOAD, JobStatus.UPLOADED, JobStatus.QUEUED})
_PROCESSING = frozenset({JobStatus.PROCESSING})


class Transition(enum.StrEnum):
    UPLOAD_COMPLETED = "UPLOAD_COMPLETED"
    UPLOAD_STORED = "UPLOAD_STORED"
    """Upload completed for a job not started yet (autoStart false): UPLOADED, nothing queued."""
    STARTED = "STARTED"
    """`POST /videos/{videoId}/jobs`: the hold placed, the video taken, the job queued."""
    CLAIMED = "CLAIMED"
    MINUTES_HELD = "MINUTES_HELD"
    """The measured minutes exceed the upload's hold: the difference is held too."""
    RETRIED = "RETRIED"
    HANDED_BACK = "HANDED_BACK"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"
    CANCELED = "CANCELED"
    """Canceled before any worker took it."""
    CANCEL_REQUESTED = "CANCEL_REQUESTED"
    CANCEL_ACKNOWLEDGED = "CANCEL_ACKNOWLEDGED"
    LEASE_LOST_REQUEUED = "LEASE_LOST_REQUEUED"
    LEASE_LOST_FAILED = "LEASE_LOST_FAILED"
    LEASE_LOST_CANCELED = "LEASE_LOST_CANCELED"
    DEAD_LETTERED = "DEAD_LETTERED"
    UPLOAD_EXPIRED = "UPLOAD_EXPIRED"


@dataclass(frozen=True, slots=True)
class Rule:
    allowed_from: frozenset[JobStatus]
    to: JobStatus


RULES: dict[Transition, Rule] = {
    Transition.UPLOAD_COMPLETED: Rule(
        frozenset({JobStatus.AWAITING_UPLOAD, JobStatus.UPLOADED}), JobStatus.QUEUED
    ),
    Transition.UPLOAD_STORED: Rule(frozenset({JobStatus.AWAITING_UPLOAD}), JobStatus.UPLOADED),
    Transition.STARTED: Rule(frozenset({JobStatus.UPLOADED}), JobStatus.QUEUED),
    Transition.CLAIMED: Rule(frozenset({JobStatus.QUEUED}), JobStatus.PROCESSING),
    Transition.MINUTES_HELD: Rule(_PROCESSING, JobStatus.PROCESSING),
    Transition.RETRIED: Rule(_PROCESSING, JobStatus.QUEUED),
    Transition.HANDED_BACK: Rule(_PROCESSING, JobStatus.QUEUED),
    Transition.COMPLETED: Rule(_PROCESSING, JobStatus.COMPLETED),
    Transition.FAILED: Rule(_PROCESSING, JobStatus.FAILED),
    Transition.CANCELED: Rule(_WAITING, JobStatus.CANCELED),
    Transition.CANCEL_REQUESTED: Rule(_PROCESSING, JobStatus.PROCESSING),
    Transition.CANCEL_ACKNOWLEDGED: Rule(_PROCESSING, JobStatus.CANCELED),
    Transition.LEASE_LOST_REQUEUED: Rule(_PROCESSING, JobStatus.QUEUED),
    Transition.LEASE_LOST_FAILED: Rule(_PROCESSING, JobStatus.FAILED),
    Transition.LEASE_LOST_CANCELED: Rule(_PROCESSING, JobStatus.CANCELED),
    Transition.DEAD_LETTERED: Rule(ACTIVE_STATUSES, JobStatus.FAILED),
    Transition.UPLOAD_EXPIRED: Rule(frozenset({JobStatus.AWAITING_UPLOAD}), JobStatus.CANCELED),
}


# -- the guarded update and the record hook ---------------------------------------------------


def _guarded(transition: Transition) -> ColumnElement[bool]:
    return Job.status.in_(RULES[transition].allowed_from)


def _target(transition: Transition) -> dict[str, Any]:
    return {"status": RULES[transition].to}


MovedRows = Sequence[Row[uuid.UUID, uuid.UUID, bool]]


def _move(
    session: Session, transition: Transition, condition: ColumnElement[bool], values: dict[str, Any]
) -> MovedRows:
    """Apply `transition` to the jobs matching `condition` that may take it; the rows moved."""
    return session.execute(
        update(Job)
        .where(condition, _guarded(transition))
        .values(**values, **_target(transition))
        .returning(Job.id, Job.user_id, Job.holds_video)
        .execution_options(synchronize_session=False)
    ).all()


@dataclass(frozen=True, slots=True)
class Recorded:
    """One transition that happened in the current transaction."""

    transition: Transition
    job_id: uuid.UUID
    error_code: str | None = None
    minutes_charged: int = 0
    plan: str | None = None


_PENDING = "video_enhancer.jobs.lifecycle.pending"


def _record(session: Session, transition: Transition, job_id: uuid.UUID, **details: Any) -> None:
    """The hook every transition ends with, inside its transaction.

    Metrics wait for the commit (`_count_committed`) so a rolled-back transition counts nothing;
    the job event log (docs/events.md) is written in the transaction itself.
    """
    session.info.setdefault(_PENDING, []).append(Recorded(transition, job_id, **details))
    append_transition_events(session, transition.value, job_id)


@event.listens_for(Session, "after_commit")
def _count_committed(session: Session) -> None:
    for recorded in session.info.pop(_PENDING, []):
        _count(recorded)


@event.listens_for(Session, "after_transaction_end")
def _forget_uncommitted(session: Session, transaction: SessionTransaction) -> None:
    if transaction.parent is None:  # the outermost transaction: committed ones were counted
        session.info.pop(_PENDING, None)


def _count(recorded: Recorded) -> None:
    to = RULES[recorded.transition].to
    if recorded.transition == Transition.RETRIED:
        JOB_RETRIES.labels(reason=recorded.error_code or "").inc()
    elif to in TERMINAL_STATUSES:
        record_job_finished(to, recorded.error_code)
    if recorded.minutes_charged and recorded.plan:
        MINUTES_CHARGED.labels(plan=recorded.plan).inc(recorded.minutes_charged)


# -- values shared by several transitions -----------------------------------------------------


def _released() -> dict[str, Any]:
    """What every way out of PROCESSING clears: the lease and the live progress."""
    return {"lease_owner": None, "lease_expires_at": None, "stage": None, "fps": None, "eta_seconds": None}


def _final(now: datetime) -> dict[str, Any]:
    """What every final status writes: progress cleared, hold released, the time it ended."""
    return {**_released(), "minutes_held": 0, "completed_at": now}


def _failure(code: str, message: str) -> dict[str, Any]:
    return {"error_code": code, "error_message": message}


def _give_back_videos(session: Session, user_ids: Iterable[uuid.UUID]) -> None:
    """A job that ends without completing does not count as one of the plan's videos."""
    for user_id in sorted(user_ids):
        session.execute(
            update(User)
            .where(User.id == user_id, User.videos_created > 0)
            .values(videos_created=User.videos_created - 1)
            .execution_options(synchronize_session=False)
        )


def _video_holders(rows: Iterable[Row[uuid.UUID, uuid.UUID, bool]]) -> list[uuid.UUID]:
    """The users of the jobs that took one of their plan's videos (not an unstarted upload)."""
    return [row.user_id for row in rows if row.holds_video]


def _ended(
    session: Session,
    transition: Transition,
    condition: ColumnElement[bool],
    values: dict[str, Any],
) -> MovedRows:
    """FAILED or CANCELED, the rows; the caller gives the videos back, then records them (the user
    rows are locked before the event counter, the order every transition keeps)."""
    return _move(session, transition, condition, values)


def _record_ended(
    session: Session,
    transition: Transition,
    rows: MovedRows,
    values: dict[str, Any],
) -> None:
    for row in rows:
        _record(session, transition, row.id, error_code=values.get("error_code"))


def _end_without_result(
    session: Session,
    transition: Transition,
    condition: ColumnElement[bool],
    values: dict[str, Any],
) -> list[uuid.UUID]:
    """FAILED or CANCELED: the row, the record, the video ticket given back."""
    rows = _ended(session, transition, condition, values)
    _give_back_videos(session, _video_holders(rows))
    _record_ended(session, transition, rows, values)
    return [row.id for row in rows]


# -- the API and the sweeper (the caller's transaction) ---------------------------------------


def _queued(job: Job, settings: Settings) -> dict[str, Any]:
    now = utcnow()
    return {
        "queued_at": now,
        "queue_rank": queue_rank(now, job.priority, settings.queue_aging_seconds),
        "run_after": None,
    }


def enqueue_job(session: Session, job: Job, settings: Settings) -> None:
    """Upload completed: AWAITING_UPLOAD/UPLOADED -> QUEUED (idempotent when already QUEUED)."""
    condition = (Job.id == job.id) & Job.holds_video.is_(True)
    moved = _move(session, Transition.UPLOAD_COMPLETED, condition, _queued(job, settings))
    session.refresh(job)
    if not moved:
        if job.status == JobStatus.QUEUED:
            return
        raise InvalidState(f"A job in status {job.status} cannot be queued.")
    announce_queued(session, job, settings)
    _record(session, Transition.UPLOAD_COMPLETED, job.id)


def store_upload(session: Session, job: Job) -> None:
    """Upload completed for a job not started (autoStart false): AWAITING_UPLOAD -> UPLOADED,
    no hold, nothing queued (idempotent when already UPLOADED)."""
    condition = (Job.id == job.id) & Job.holds_video.is_(False)
    moved = _move(session, Transition.UPLOAD_STORED, condition, {})
    session.refresh(job)
    if moved:
        _record(session, Transition.UPLOAD_STORED, job.id)
    elif job.status != JobStatus.UPLOADED:
        raise InvalidState(f"A job in status {job.status} cannot take its upload.")


def start_job(session: Session, job: Job, user: User, minutes: int, settings: Settings) -> None:
    """Started: UPLOADED -> QUEUED with the quota hold placed and the plan's video taken.

    The caller has checked the plan under the user's row lock (`videos.service.start_job`).
    """
    values = {**_queued(job, settings), "minutes_held": minutes, "holds_video": True}
    condition = (Job.id == job.id) & Job.holds_video.is_(False)
    if not _move(session, Transition.STARTED, condition, values):
        session.refresh(job)
        raise InvalidState(f"A job in status {job.status} cannot be started.")
    user.videos_created += 1
    session.refresh(job)
    announce_queued(session, job, settings)
    _record(session, Transition.STARTED, job.id)


def request_cancel(session: Session, job: Job) -> None:
    """Cancel a waiting job at once (hold released, video given back) or flag a running one.

    Either conditional update wins against a concurrent claim: the worker sees CANCELED (and
    skips the job) or has made it PROCESSING already (and gets the flag). Canceling twice is a
    no-op; a COMPLETED or FAILED job cannot be canceled.
    """
    values = {**_final(utcnow()), "cancel_requested": True}
    if not _end_without_result(session, Transition.CANCELED, Job.id == job.id, values):
        flagged = _move(
            session,
            Transition.CANCEL_REQUESTED,
            (Job.id == job.id) & Job.cancel_requested.is_(False),
            {"cancel_requested": True},
        )
        if flagged:
            _record(session, Transition.CANCEL_REQUESTED, job.id)
    session.refresh(job)
    if job.status in (JobStatus.COMPLETED, JobStatus.FAILED):
        raise InvalidState(f"A {job.status} job cannot be canceled.")


def expire_uploads(session: Session, job_ids: Sequence[uuid.UUID], now: datetime) -> list[uuid.UUID]:
    """Upload expired: AWAITING_UPLOAD -> CANCELED with UPLOAD_EXPIRED; the jobs it moved."""
    values = {**_final(now), **_failure(UPLOAD_EXPIRED, "The upload was not finished before its deadline.")}
    return _end_without_result(session, Transition.UPLOAD_EXPIRED, Job.id.in_(job_ids), values)


# -- the worker (its own short transactions) --------------------------------------------------


def _claim_values(worker_id: str, lease_seconds: float, now: datetime) -> dict[str, Any]:
    return {
        "lease_owner": worker_id,
        "lease_expires_at": now + timedelta(seconds=lease_seconds),
        "attempts": Job.attempts + 1,
        "started_at": func.coalesce(Job.started_at, at(now)),
    }


def _claim(
    session_factory: SessionFactory,
    condition: ColumnElement[bool],
    worker_id: str,
    lease_seconds: float,
    now: datetime,
) -> ClaimedJob | None:
    statement = (
        update(Job)
        .where(condition, _guarded(Transition.CLAIMED))
        .values(**_claim_values(worker_id, lease_seconds, now), **_target(Transition.CLAIMED))
        .returning(
            Job.id,
            Job.video_id,
            Job.user_id,
            Job.attempts,
            Job.max_attempts,
            Job.lease_expires_at,
            Job.request_id,
            Job.enhancer,
        )
        .execution_options(synchronize_session=False)
    )
    with session_scope(session_factory) as session:
        row = session.execute(statement).first()
        if row is None:
            return None
        _record(session, Transition.CLAIMED, row.id)
    return ClaimedJob(
        job_id=row.id,
        video_id=row.video_id,
        user_id=row.user_id,
        worker_id=worker_id,
        attempts=row.attempts,
        max_attempts=row.max_attempts,
        lease_expires_at=row.lease_expires_at,
        request_id=row.request_id,
        enhancer=row.enhancer,
    )


def claim_next_job(
    session_factory: SessionFactory,
    worker_id: str,
    lease_seconds: float,
    now: datetime | None = None,
    enhancers: Collection[str] | None = None,
) -> ClaimedJob | None:
    """Claimed: the first runnable QUEUED job -> PROCESSING in one statement; None when none.

    With `enhancers` (a worker's explicit `VE_ENHANCERS`) only jobs asking for one of them.
    """
    now = now or utcnow()
    next_id = next_job_id(now, lock=is_postgres(session_factory), enhancers=enhancers).scalar_subquery()
    return _claim(session_factory, Job.id == next_id, worker_id, lease_seconds, now)


def claim_job_by_id(
    session_factory: SessionFactory,
    job_id: uuid.UUID,
    worker_id: str,
    lease_seconds: float,
    now: datetime | None = None,
) -> ClaimedJob | None:
    """Claimed, for a transport that names the job (Pub/Sub); None unless it is QUEUED now.

    `run_after` is not consulted: the transport's own redelivery delay is the back-off there.
    """
    return _claim(session_factory, Job.id == job_id, worker_id, lease_seconds, now or utcnow())


def _lock_owned_job(session: Session, claimed: ClaimedJob) -> Job | None:
    job = session.scalar(select(Job).where(Job.id == claimed.job_id).with_for_update())
    if job is None or job.status != JobStatus.PROCESSING or job.lease_owner != claimed.worker_id:
        return None
    return job


class MinutesHold(enum.StrEnum):
    HELD = "HELD"
    """The hold covers the measured minutes (it may have grown to)."""
    OVER_QUOTA = "OVER_QUOTA"
    """The difference is more than the user has left: the job must fail, charging nothing."""
    LOST = "LOST"
    """The job is no longer this worker's."""


def _cover_measured(session: Session, job: Job, user: User, measured_seconds: float) -> bool:
    """Grow the job's hold to its measured minutes from what remains; False if too little does.

    The caller holds the user's row lock (FOR UPDATE on PostgreSQL; SQLite's BEGIN IMMEDIATE
    serialises writers), so holds and charges of concurrent jobs are counted exactly once.
    """
    extra = minutes_for_duration(measured_seconds) - job.minutes_held
    if extra <= 0:
        return True
    remaining = usage_for(session, user).minutes_remaining
    if remaining is not None and extra > remaining:
        return False
    session.execute(
        update(Job)
        .where(Job.id == job.id, _guarded(Transition.MINUTES_HELD))
        .values(minutes_held=job.minutes_held + extra, **_target(Transition.MINUTES_HELD))
        .execution_options(synchronize_session=False)
    )
    session.refresh(job)
    _record(session, Transition.MINUTES_HELD, job.id)
    return True


def hold_measured_minutes(
    session_factory: SessionFactory, claimed: ClaimedJob, measured_seconds: float
) -> MinutesHold:
    """Minutes held: right after probing, before any decode, the hold grows to the measured minutes.

    An upload that claimed less than it holds takes the difference from the user's remaining
    minutes, or the caller fails the job with QUOTA_EXCEEDED: usage never exceeds the plan.
    """
    with session_scope(session_factory) as session:
        job = _lock_owned_job(session, claimed)
        if job is None:
            return MinutesHold.LOST
        user = session.get(User, job.user_id, with_for_update=True)
        assert user is not None  # a foreign key guarantees it
        covered = _cover_measured(session, job, user, measured_seconds)
    return MinutesHold.HELD if covered else MinutesHold.OVER_QUOTA


def quota_message(measured_seconds: float) -> str:
    minutes = minutes_for_duration(measured_seconds)
    return f"The video is {measured_seconds:.1f} seconds long ({minutes} minute(s)); too few minutes remain."


def complete_job(session_factory: SessionFactory, claimed: ClaimedJob, output: CompletedOutput) -> int | None:
    """Completed and charged: the row, the ledger and the hold in one transaction.

    Returns the minutes charged, or None when nothing was charged: the job is no longer this
    worker's (completed already, canceled, lease lost), or its measured minutes exceed the hold
    and what remains (it is then FAILED with QUOTA_EXCEEDED, a safety net behind
    `hold_measured_minutes`).
    """
    with session_scope(session_factory) as session:
        job = _lock_owned_job(session, claimed)
        if job is None:
            return None
        user = session.get(User, job.user_id, with_for_update=True)
        video = session.get(Video, job.video_id, with_for_update=True)
        assert user is not None and video is not None  # foreign keys guarantee both
        if not _cover_measured(session, job, user, output.measured_seconds):
            _fail_owned(session, claimed, QUOTA_EXCEEDED, quota_message(output.measured_seconds))
            return None
        minutes = charge_job(session, job, user, output.measured_seconds)
        _write_completion(session, claimed, video, output, minutes)
        _record(session, Transition.COMPLETED, job.id, minutes_charged=minutes, plan=str(user.plan))
    return minutes


def _write_completion(
    session: Session, claimed: ClaimedJob, video: Video, output: CompletedOutput, minutes: int
) -> None:
    values = {
        **_final(utcnow()),
        "minutes_charged": func.coalesce(Job.minutes_charged, minutes),
        "progress_percent": 100.0,
        "error_code": None,
        "error_message": None,
        "enhancer": output.enhancer,
        "result": output.result,
        "quality": output.quality,
    }
    _move(session, Transition.COMPLETED, owned_by(claimed), values)
    video.output_storage_path = output.output_storage_path
    video.output_resolution = output.output_resolution
    video.output_size_bytes = output.output_size_bytes
    video.output_thumbnail_path = output.output_thumbnail_path


def _fail_owned(session: Session, claimed: ClaimedJob, code: str, message: str) -> bool:
    values = {**_final(utcnow()), **_failure(code, message)}
    return bool(_end_without_result(session, Transition.FAILED, owned_by(claimed), values))


def fail_job(session_factory: SessionFactory, claimed: ClaimedJob, code: str, message: str) -> bool:
    """Failed for good: a stable code and a readable message; hold released, nothing charged."""
    with session_scope(session_factory) as session:
        return _fail_owned(session, claimed, code, message)


def retry_job(
    session_factory: SessionFactory,
    claimed: ClaimedJob,
    code: str,
    message: str,
    now: datetime | None = None,
) -> JobStatus | None:
    """Retried: back to QUEUED after a back-off while attempts remain, else FAILED.

    Returns the new status, or None when the job was no longer this worker's.
    """
    now = now or utcnow()
    if claimed.attempts >= claimed.max_attempts:
        return JobStatus.FAILED if fail_job(session_factory, claimed, code, message) else None
    values = {
        **_released(),
        **_failure(code, message),
        "run_after": now + timedelta(seconds=retry_delay_seconds(claimed.attempts)),
    }
    with session_scope(session_factory) as session:
        if not _move(session, Transition.RETRIED, owned_by(claimed), values):
            return None
        _record(session, Transition.RETRIED, claimed.job_id, error_code=code)
    return JobStatus.QUEUED


def acknowledge_cancel(session_factory: SessionFactory, claimed: ClaimedJob) -> bool:
    """Cancel acknowledged: the worker stopped at a checkpoint; CANCELED, hold released."""
    with session_scope(session_factory) as session:
        moved = _end_without_result(
            session, Transition.CANCEL_ACKNOWLEDGED, owned_by(claimed), _final(utcnow())
        )
    return bool(moved)


def hand_back_job(session_factory: SessionFactory, claimed: ClaimedJob) -> bool:
    """Handed back (graceful shutdown): QUEUED at once; this attempt does not count."""
    values = {**_released(), "run_after": None, "attempts": Job.attempts - 1}
    with session_scope(session_factory) as session:
        if not _move(session, Transition.HANDED_BACK, owned_by(claimed), values):
            return False
        if is_postgres(session_factory):
            notify_workers(session, str(claimed.job_id))
        _record(session, Transition.HANDED_BACK, claimed.job_id)
    return True


@dataclass(frozen=True, slots=True)
class RecoveredLeases:
    requeued: int = 0
    failed: int = 0
    canceled: int = 0


def requeue_expired_leases(session_factory: SessionFactory, now: datetime | None = None) -> RecoveredLeases:
    """Lease lost: act on every PROCESSING job whose lease has expired (stalled-job recovery).

    A cancel request is honoured (CANCELED); a job out of attempts fails with WORKER_LOST;
    anything else goes back to QUEUED keeping its rank, so it is taken again first. The attempt
    that died has already been counted by its claim.
    """
    now = now or utcnow()
    expired = (Job.status == JobStatus.PROCESSING) & (Job.lease_expires_at < at(now))
    lost = "The worker processing this video stopped responding too many times."
    with session_scope(session_factory) as session:
        failed_values = {**_final(now), **_failure(WORKER_LOST, lost)}
        canceled = _ended(
            session, Transition.LEASE_LOST_CANCELED, expired & Job.cancel_requested.is_(True), _final(now)
        )
        failed = _ended(
            session, Transition.LEASE_LOST_FAILED, expired & (Job.attempts >= Job.max_attempts), failed_values
        )
        requeued = _move(session, Transition.LEASE_LOST_REQUEUED, expired, {**_released(), "run_after": None})
        _give_back_videos(session, _video_holders([*canceled, *failed]))  # users after jobs
        # ...and the records (the event counters) after the users.
        _record_ended(session, Transition.LEASE_LOST_CANCELED, canceled, _final(now))
        _record_ended(session, Transition.LEASE_LOST_FAILED, failed, failed_values)
        for row in requeued:
            _record(session, Transition.LEASE_LOST_REQUEUED, row.id)
        if requeued and is_postgres(session_factory):
            notify_workers(session)
    return RecoveredLeases(requeued=len(requeued), failed=len(failed), canceled=len(canceled))


def dead_letter(session_factory: SessionFactory, job_id: uuid.UUID, reason: str) -> bool:
    """Dead-lettered: the transport gave up delivering the job; FAILED unless a worker holds a
    live lease on it. False when nothing changed (already final, or still being worked on)."""
    now = utcnow()
    not_running = (Job.status != JobStatus.PROCESSING) | (Job.lease_expires_at < at(now))
    values = {**_final(now), **_failure(DELIVERY_EXHAUSTED, reason)}
    with session_scope(session_factory) as session:
        moved = _end_without_result(
            session, Transition.DEAD_LETTERED, (Job.id == job_id) & not_running, values
        )
    return bool(moved)
