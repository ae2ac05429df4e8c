"""Subscription plans: the single source of truth for quotas and limits."""

from __future__ import annotations

from dataclasses import dataclass

from video_enhancer.models.enums import Plan


@dataclass(frozen=True, slots=True)
class PlanLimits:
    plan: Plan
    lifetime_videos: int | None  # None = unlimited
    max_duration_seconds: int
    minutes_per_cycle: int | None  # None = no minute allowance (FREE: its one video is not metered)
    max_output_height: int
    queue_priority: int  # higher is served first
    max_upload_bytes: int
    previews_per_day: int  # free before/after previews in the last 24 hours

    @property
    def priority_name(self) -> str:
        return PRIORITY_NAMES[self.queue_priority]


GIB = 1024**3

PLANS: dict[Plan, PlanLimits] = {
    Plan.FREE: PlanLimits(Plan.FREE, 1, 30, None, 720, 0, 1 * GIB, 3),
    Plan.CREATOR: PlanLimits(Plan.CREATOR, None, 120, 30, 1080, 1, 2 * GIB, 20),
    Plan.PRO: PlanLimits(Plan.PRO, None, 300, 120, 1080, 2, 4 * GIB, 50),
}

# What the app shows for `queue_priority`.
PRIORITY_NAMES: dict[int, str] = {0: "low", 1: "normal", 2: "high"}

BILLING_CYCLE_DAYS = 30


def limits_for(plan: Plan | str) -> PlanLimits:
    return PLANS[Plan(plan)]
