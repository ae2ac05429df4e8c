"""Response bodies of the /users routes (camelCase on the wire)."""

from __future__ import annotations

import uuid
from datetime import date, datetime

from pydantic import Field

from video_enhancer.api.schemas import CamelModel
from video_enhancer.models import Plan


class PlanLimitsOut(CamelModel):
    lifetime_videos: int | None = Field(
        description="Videos allowed in the account's lifetime; null: unlimited."
    )
    max_duration_seconds: int = Field(description="Longest video accepted, in seconds.")
    minutes_per_cycle: int | None = Field(
        description="Minutes included per 30-day cycle; null: not metered by minutes (FREE)."
    )
    max_output_height: int = Field(description="Height in pixels of the largest output.")
    priority: int = Field(description="Queue priority; higher is served first.")
    priority_name: str = Field(description="Queue priority as shown to people: low, normal or high.")
    max_upload_bytes: int = Field(description="Largest upload accepted, in bytes.")


class UsageOut(CamelModel):
    cycle_start: datetime = Field(description="Start of the current 30-day billing cycle (UTC).")
    cycle_end: datetime = Field(description="End of the current cycle; usage resets then.")
    minutes_used: int = Field(description="Minutes charged in the current cycle.")
    minutes_held: int = Field(description="Minutes reserved by videos uploading, queued or processing.")
    minutes_remaining: int | None = Field(
        description="Included minus used minus held, never below 0; null when the plan has no minutes."
    )


class MeResponse(CamelModel):
    id: uuid.UUID
    email: str
    plan: Plan
    created_at: datetime
    limits: PlanLimitsOut
    usage: UsageOut
    videos_created: int = Field(
        description=(
            "Videos that count against the plan: every one created, less those whose job was "
            "canceled, failed or expired (deleting a completed one does not lower it)."
        )
    )
    videos_remaining: int | None = Field(description="Videos the plan still allows; null: unlimited.")
    email_verified: bool = Field(
        serialization_alias="emailVerified", description="Whether the email address was confirmed."
    )


class DailyUsageOut(CamelModel):
    day: date = Field(description="A UTC day (YYYY-MM-DD).")
    minutes: int = Field(description="Minutes charged that day (jobs completed that day).")
    jobs: int = Field(description="Jobs charged that day.")


class UsageHistoryOut(CamelModel):
    days: int = Field(description="Number of daily buckets: the last one is today (UTC).")
    total_minutes: int = Field(description="Minutes charged over those days.")
    buckets: list[DailyUsageOut] = Field(description="One per day, oldest first; zeros included.")
