"""Every transition of the job lifecycle, from every status, on SQLite and PostgreSQL.

An allowed transition reaches its target status and writes what goes with it (hold, ledger,
video ticket, metrics); a forbidden one (COMPLETED -> FAILED, CANCELED -> PROCESSING, ...)
changes nothing at all: not the job row, not the user, not the ledger, not the outbox, not a
metric.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pytest
from prometheus_client import REGISTRY
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from factories import make_job, make_user
from video_enhancer.config import Settings
from video_enhancer.errors import InvalidState
from video_enhancer.jobs import lifecycle
from video_enhancer.jobs.lifecycle import RULES, Transition
from video_enhancer.models import (
    TERMINAL_STATUSES,
    Job,
    JobStatus,
    OutboxMessage,
    Plan,
    UsageEntry,
    User,
    utcnow,
)
from video_enhancer.queue.database import ClaimedJob, CompletedOutput

Factory = sessionmaker[Session]
WORKER = "walker"
METRICS = ("ve_jobs_finished_total", "ve_job_retries_total", "ve_minutes_charged_total")


def _claimed(job: Job) -> ClaimedJob:
    assert job.lease_expires_at is not None
    return ClaimedJob(
        job_id=job.id,
        video_id=job.video_id,
        user_id=job.user_id,
        worker_id=WORKER,
        attempts=job.attempts,
        max_attempts=job.max_attempts,
        lease_expires_at=job.lease_expires_at,
    )


def _in_session(factory: Factory, job_id: uuid.UUID, action: Callable[[Session, Job], object]) -> None:
    with factory() as session:
        job = session.get(Job, job_id)
        assert job is not None
        try:
            action(session, job)
        except InvalidState:
            session.rollback()
            raise
        session.commit()


def _output() -> CompletedOutput:
    return CompletedOutput(30.0, "users/x/enhanced.mp4", "64x64", 10, "lanczos")


Runner = Callable[[Factory, Job, Settings], object]


def _start(session: Session, job: Job, settings: Settings) -> None:
    user = session.get(User, job.user_id)
    assert user is not None
    lifecycle.start_job(session, job, user, 2, settings)


RUNNERS: dict[Transition, Runner] = {
    Transition.UPLOAD_COMPLETED: lambda f, j, s: _in_session(
        f, j.id, lambda session, job: lifecycle.enqueue_job(session, job, s)
    ),
    Transition.UPLOAD_STORED: lambda f, j, s: _in_session(
        f, j.id, lambda session, job: lifecycle.store_upload(session, job)
    ),
    Transition.STARTED: lambda f, j, s: _in_session(f, j.id, lambda session, job: _start(session, job, s)),
    Transition.CLAIMED: lambda f, j, s: lifecycle.claim_job_by_id(f, j.id, WORKER, 60),
    Transition.MINUTES_HELD: lambda f, j, s: lifecycle.hold_measured_minutes(f, _claimed(j), 150.0),
    Transition.RETRIED: lambda f, j, s: lifecycle.retry_job(f, _claimed(j), "FLAKY", "try again"),
    Transition.HANDED_BACK: lambda f, j, s: lifecycle.hand_back_job(f, _claimed(j)),
    Transition.COMPLETED: lambda f, j, s: lifecycle.complete_job(f, _claimed(j), _output()),
    Transition.FAILED: lambda f, j, s: lifecycle.fail_job(f, _claimed(j), "BROKEN", "bad video"),
    Transition.CANCELED: lambda f, j, s: _in_session(
        f, j.id, lambda session, job: lifecycle.request_cancel(session, job)
    ),
    Transition.CANCEL_REQUESTED: lambda f, j, s: _in_session(
        f, j.id, lambda session, job: lifecycle.request_cancel(session, job)
    ),
    Transition.CANCEL_ACKNOWLEDGED: lambda f, j, s: lifecycle.acknowledge_cancel(f, _claimed(j)),
    Transition.LEASE_LOST_REQUEUED: lambda f, j, s: lifecycle.requeue_expired_leases(f),
    Transition.LEASE_LOST_FAILED: lambda f, j, s: lifecycle.requeue_expired_leases(f),
    Transition.LEASE_LOST_CANCELED: lambda f, j, s: lifecycle.requeue_expired_leases(f),
    Transition.DEAD_LETTERED: lambda f, j, s: lifecycle.dead_letter(f, j.id, "gave up"),
    Transition.UPLOAD_EXPIRED: lambda f, j, s: _in_session(
        f, j.id, lambda session, job: lifecycle.expire_uploads(session, [job.id], utcnow())
    ),
}

_EXPIRED_LEASE = {
    Transition.LEASE_LOST_REQUEUED,
    Transition.LEASE_LOST_FAILED,
    Transition.LEASE_LOST_CANCELED,
}
_EXPIRED_LEASE |= {Transition.DEAD_LETTERED}
# Transitions of an upload made with autoStart false: the job holds no video and no minutes yet.
_UNSTARTED = {Transition.UPLOAD_STORED, Transition.STARTED}


# One API function, two transitions: cancel a waiting job at once, or flag a running one.
PARTNERS = {
    Transition.CANCELED: Transition.CANCEL_REQUESTED,
    Transition.CANCEL_REQUESTED: Transition.CANCELED,
}


def _setup_values(transition: Transition) -> dict[str, Any]:
    """Columns that make the transition's own condition hold, so only the status decides."""
    now = utcnow()
    expired = transition in _EXPIRED_LEASE
    values: dict[str, Any] = {
        "lease_owner": WORKER,
        "lease_expires_at": now + (-timedelta(minutes=5) if expired else timedelta(minutes=5)),
        "attempts": 1,
        "max_attempts": 3,
        "stage": "enhancing",
        "fps": 12.0,
        "eta_seconds": 30.0,
    }
    if transition in (Transition.LEASE_LOST_CANCELED, Transition.CANCEL_ACKNOWLEDGED):
        values["cancel_requested"] = True
    if transition == Transition.LEASE_LOST_FAILED:
        values["attempts"] = 3
    if transition in _UNSTARTED:
        values["holds_video"] = False
        values["minutes_held"] = 0
    return values


@dataclass
class Snapshot:
    job: dict[str, Any]
    user: dict[str, Any]
    ledger: int
    outbox: int
    metrics: dict[tuple[str, tuple[tuple[str, str], ...]], float] = field(default_factory=dict)


def _metrics() -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    values = {}
    for family in REGISTRY.collect():
        for sample in family.samples:
            if sample.name in METRICS:
                values[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return values


def _snapshot(factory: Factory, job_id: uuid.UUID, user_id: uuid.UUID) -> Snapshot:
    with factory() as session:
        job = session.execute(select(Job.__table__).where(Job.id == job_id)).mappings().one()
        user = session.execute(select(User.__table__).where(User.id == user_id)).mappings().one()
        ledger = session.scalar(select(func.count(UsageEntry.id)).where(UsageEntry.user_id == user_id))
        outbox = session.scalar(select(func.count(OutboxMessage.id)))
    return Snapshot(dict(job), dict(user), int(ledger or 0), int(outbox or 0), _metrics())


def _make(factory: Factory, status: JobStatus, transition: Transition) -> tuple[uuid.UUID, uuid.UUID]:
    with factory() as session:
        user = make_user(session, Plan.CREATOR)
        user.videos_created = 1
        job = make_job(session, user, status=status, minutes_held=1)
        for name, value in _setup_values(transition).items():
            setattr(job, name, value)
        session.commit()
        return job.id, user.id


def _run(factory: Factory, settings: Settings, transition: Transition, job_id: uuid.UUID) -> None:
    with factory() as session:
        job = session.get(Job, job_id)
        assert job is not None
        session.expunge(job)
    try:
        RUNNERS[transition](factory, job, settings)
    except InvalidState:
        pass  # the API's answer to a forbidden upload completion or cancel; checked below


def _finished(snapshot: Snapshot, status: JobStatus) -> float:
    return sum(
        value
        for (name, labels), value in snapshot.metrics.items()
        if name == "ve_jobs_finished_total" and dict(labels)["status"] == status.value
    )


def _check_allowed(transition: Transition, before: Snapshot, after: Snapshot) -> None:
    target = RULES[transition].to
    assert after.job["status"] == target, transition
    ended = target in TERMINAL_STATUSES
    if ended:
        assert after.job["minutes_held"] == 0
        assert (after.job["lease_owner"], after.job["stage"], after.job["fps"], after.job["eta_seconds"]) == (
            None,
            None,
            None,
            None,
        )
        assert _finished(after, target) == _finished(before, target) + 1
    completed = target == JobStatus.COMPLETED
    assert after.ledger == before.ledger + (1 if completed else 0)
    gave_back = ended and not completed
    took = transition == Transition.STARTED
    change = (1 if took else 0) - (1 if gave_back else 0)
    assert after.user["videos_created"] == before.user["videos_created"] + change
    if took:
        assert (after.job["minutes_held"], after.job["holds_video"]) == (2, True)
    if not ended:
        assert _finished(after, JobStatus.FAILED) == _finished(before, JobStatus.FAILED)
    if transition == Transition.MINUTES_HELD:
        assert after.job["minutes_held"] == 3  # 150 s measured, 1 minute held at upload
    if transition == Transition.CANCEL_REQUESTED:
        assert after.job["cancel_requested"] is True


def _performed(transition: Transition, status: JobStatus) -> Transition | None:
    for candidate in (transition, PARTNERS.get(transition)):
        if candidate is not None and status in RULES[candidate].allowed_from:
            return candidate
    return None


@pytest.mark.parametrize("transition", list(Transition))
def test_every_status_against_every_transition(
    transition: Transition, session_factory: Factory, settings: Settings
) -> None:
    for status in JobStatus:
        job_id, user_id = _make(session_factory, status, transition)
        before = _snapshot(session_factory, job_id, user_id)
        _run(session_factory, settings, transition, job_id)
        after = _snapshot(session_factory, job_id, user_id)
        performed = _performed(transition, status)
        if performed is not None:
            _check_allowed(performed, before, after)
        else:
            assert after == before, f"{status} -> {transition} changed something"


def test_the_rules_name_every_transition_and_the_walk_runs_each() -> None:
    assert set(RULES) == set(Transition) == set(RUNNERS)
    for rule in RULES.values():
        assert rule.allowed_from <= set(JobStatus)
    # The examples of forbidden moves that must stay forbidden.
    assert JobStatus.COMPLETED not in RULES[Transition.FAILED].allowed_from
    assert JobStatus.CANCELED not in RULES[Transition.CLAIMED].allowed_from
    for transition, rule in RULES.items():
        assert not rule.allowed_from & TERMINAL_STATUSES, f"{transition} leaves a final status"


def test_a_rolled_back_transition_counts_nothing(session_factory: Factory, settings: Settings) -> None:
    job_id, _user_id = _make(session_factory, JobStatus.AWAITING_UPLOAD, Transition.CANCELED)
    before = _metrics()
    with session_factory() as session:
        job = session.get(Job, job_id)
        assert job is not None
        lifecycle.request_cancel(session, job)
        session.rollback()
    with session_factory() as session:
        job = session.get(Job, job_id)
        assert job is not None and job.status == JobStatus.AWAITING_UPLOAD
        session.commit()  # a later commit of the same session does not count the rolled-back one
    assert _metrics() == before


def test_completion_beyond_the_hold_and_the_remaining_minutes_fails_and_charges_nothing(
    session_factory: Factory,
) -> None:
    job_id, user_id = _make(session_factory, JobStatus.PROCESSING, Transition.COMPLETED)
    with session_factory.begin() as session:
        user = session.get(User, user_id)
        assert user is not None
        user.minutes_used_this_month = 29  # 29 used + 1 held: the whole 30 minutes
    with session_factory() as session:
        job = session.get(Job, job_id)
        assert job is not None
        claimed = _claimed(job)
    output = CompletedOutput(120.0, "users/x/enhanced.mp4", "64x64", 10, "lanczos")

    assert lifecycle.complete_job(session_factory, claimed, output) is None

    after = _snapshot(session_factory, job_id, user_id)
    assert (after.job["status"], after.job["error_code"]) == (JobStatus.FAILED, lifecycle.QUOTA_EXCEEDED)
    assert (after.job["minutes_charged"], after.job["minutes_held"], after.ledger) == (None, 0, 0)
    assert after.user["minutes_used_this_month"] == 29
