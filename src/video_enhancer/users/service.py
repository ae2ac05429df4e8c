"""The account as its owner sees it, and plan changes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from video_enhancer.billing.plans import PlanLimits, limits_for
from video_enhancer.billing.service import Usage, usage_for
from video_enhancer.errors import NotFound
from video_enhancer.models import Plan, User
from video_enhancer.users.repository import get_user_by_email


@dataclass(frozen=True, slots=True)
class AccountOverview:
    user: User
    limits: PlanLimits
    usage: Usage

    @property
    def videos_remaining(self) -> int | None:
        if self.limits.lifetime_videos is None:
            return None
        return max(0, self.limits.lifetime_videos - self.user.videos_created)


def account_overview(session: Session, user: User, now: datetime | None = None) -> AccountOverview:
    """Plan, limits and current-cycle usage; starts a new cycle first when the last one ended."""
    usage = usage_for(session, user, now)
    return AccountOverview(user=user, limits=limits_for(user.plan), usage=usage)


@dataclass(frozen=True, slots=True)
class PlanChange:
    email: str
    old_plan: Plan
    new_plan: Plan
    minutes_used_this_cycle: int


def change_plan(session: Session, email: str, plan: Plan) -> PlanChange:
    """Set a user's plan. New uploads see the new limits; this cycle's usage is kept."""
    user = get_user_by_email(session, email)
    if user is None:
        raise NotFound(f"No user with email {email!r}.")
    change = PlanChange(user.email, user.plan, plan, user.minutes_used_this_month)
    user.plan = plan
    session.flush()
    return change
