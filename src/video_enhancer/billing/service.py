"""Minutes accounting: 30-day cycles, quota holds and exactly-once charging.

A hold is the `minutes_held` of an active job (not yet COMPLETED/FAILED/CANCELED); it is released
by the job reaching a terminal state. Charging writes one ledger row per job (unique job id), so a
job completed twice is charged once. The job row itself (its hold, its charged minutes, its
status) is written only by `jobs.lifecycle`, which calls `charge_job` when a job completes.
"""

from __future__ import annotations

import math
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from video_enhancer.billing.plans import BILLING_CYCLE_DAYS, limits_for
from video_enhancer.models import ACTIVE_STATUSES, Job, UsageEntry, User, utcnow

CYCLE = timedelta(days=BILLING_CYCLE_DAYS)


def minutes_for_duration(duration_seconds: float) -> int:
    """Charged minutes = ceil(seconds / 60); a video of 0 < d <= 60 s costs one minute."""
    return max(1, math.ceil(duration_seconds / 60)) if duration_seconds > 0 else 0


def roll_cycle_if_due(user: User, now: datetime | None = None) -> None:
    """Start a new 30-day cycle (possibly several) once the current one has ended."""
    now = now or utcnow()
    if now < user.billing_cycle_start + CYCLE:
        return
    elapsed_cycles = (now - user.billing_cycle_start) // CYCLE
    user.billing_cycle_start = user.billing_cycle_start + elapsed_cycles * CYCLE
    user.minutes_used_this_month = 0


def minutes_held(session: Session, user_id: uuid.UUID) -> int:
    total = session.scalar(
        select(func.coalesce(func.sum(Job.minutes_held), 0)).where(
            Job.user_id == user_id, Job.status.in_(ACTIVE_STATUSES)
        )
    )
    return int(total or 0)


@dataclass(frozen=True, slots=True)
class Usage:
    minutes_used: int
    minutes_held: int
    minutes_included: int | None
    cycle_start: datetime
    cycle_end: datetime

    @property
    def minutes_remaining(self) -> int | None:
        if self.minutes_included is None:
            return None
        return max(0, self.minutes_included - self.minutes_used - self.minutes_held)


def usage_for(session: Session, user: User, now: datetime | None = None) -> Usage:
    roll_cycle_if_due(user, now)
    return Usage(
        minutes_used=user.minutes_used_this_month,
        minutes_held=minutes_held(session, user.id),
        minutes_included=limits_for(user.plan).minutes_per_cycle,
        cycle_start=user.billing_cycle_start,
        cycle_end=user.billing_cycle_start + CYCLE,
    )


def charge_job(session: Session, job: Job, user: User, measured_seconds: float) -> int:
    """Write the ledger row and the user's usage for a job's measured minutes, once.

    Returns the minutes charged (0 if already charged). The caller (`jobs.lifecycle.complete_job`)
    holds the job and user row locks and writes the job row in the same transaction. The unique
    ledger row is the last line of defence against a double charge by a concurrent path.
    """
    if job.minutes_charged is not None:
        return 0
    already = session.scalar(select(UsageEntry.id).where(UsageEntry.job_id == job.id))
    if already is not None:
        return 0
    roll_cycle_if_due(user)
    minutes = minutes_for_duration(measured_seconds)
    user.minutes_used_this_month += minutes
    session.add(
        UsageEntry(
            user_id=user.id,
            job_id=job.id,
            minutes=minutes,
            measured_duration_seconds=measured_seconds,
            cycle_start=user.billing_cycle_start,
        )
    )
    session.flush()
    return minutes
