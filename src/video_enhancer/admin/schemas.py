"""Response models of the admin endpoints (camelCase on the wire)."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

from video_enhancer.admin.stats import Stats
from video_enhancer.api.schemas import CamelModel


class QueueStatsOut(CamelModel):
    priority: int = Field(description="Queue priority (FREE 0, CREATOR 1, PRO 2).")
    priority_name: str = Field(description="The name the app shows for this priority.")
    depth: int = Field(description="Jobs waiting (QUEUED).")
    oldest_age_seconds: float | None = Field(
        description="Wait of the oldest queued job; null when none waits."
    )


class AdminStatsOut(CamelModel):
    generated_at: datetime
    jobs_by_status: dict[str, int] = Field(description="Every job status with its count (zeros included).")
    completed_jobs: int
    failed_jobs: int
    average_processing_seconds: float | None = Field(
        description="Mean of completedAt - startedAt over completed jobs; null before the first."
    )
    error_rate: float | None = Field(
        description="FAILED / (COMPLETED + FAILED), 0..1; cancellations are not counted. Null before any."
    )
    queue: list[QueueStatsOut]
    oldest_queued_age_seconds: float | None = Field(description="Longest wait over every priority.")
    minutes_charged_last_30_days: int

    @classmethod
    def from_stats(cls, stats: Stats) -> AdminStatsOut:
        return cls.model_validate(stats, from_attributes=True)
