"""Minutes charged per day: the account page's usage chart (`GET /users/me/usage`)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from video_enhancer.models import UsageEntry, utcnow


@dataclass(frozen=True, slots=True)
class DailyUsage:
    day: date
    minutes: int
    jobs: int


def daily_usage(
    session: Session, user_id: uuid.UUID, days: int, now: datetime | None = None
) -> list[DailyUsage]:
    """One bucket per UTC day, oldest first, the last one today; days without charges are zeros.

    Read from the usage ledger, which keeps the charges of deleted videos too.
    """
    today = (now or utcnow()).astimezone(UTC).date()
    first = today - timedelta(days=days - 1)
    since = datetime.combine(first, time.min, tzinfo=UTC)
    rows = session.execute(
        select(UsageEntry.created_at, UsageEntry.minutes).where(
            UsageEntry.user_id == user_id, UsageEntry.created_at >= since
        )
    ).all()
    minutes: dict[date, int] = {}
    jobs: dict[date, int] = {}
    for created_at, charged in rows:
        day = created_at.astimezone(UTC).date()
        minutes[day] = minutes.get(day, 0) + charged
        jobs[day] = jobs.get(day, 0) + 1
    every_day = (first + timedelta(days=offset) for offset in range(days))
    return [DailyUsage(day, minutes.get(day, 0), jobs.get(day, 0)) for day in every_day]
