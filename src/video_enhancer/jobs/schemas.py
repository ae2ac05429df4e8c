"""Response bodies of the /jobs routes (camelCase on the wire, like every body the app reads)."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from video_enhancer.models import JobStatus


class CamelModel(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, from_attributes=True)


class JobOut(CamelModel):
    id: uuid.UUID
    video_id: uuid.UUID
    status: JobStatus
    stage: str | None = Field(description="Pipeline stage while PROCESSING (downloading, enhancing, ...).")
    progress_percent: float = Field(ge=0, le=100)
    frames_done: int | None
    frames_total: int | None
    fps: float | None = Field(description="Enhancement speed, frames per second.")
    eta_seconds: float | None
    error_code: str | None
    error_message: str | None
    minutes_held: int = Field(description="Minutes reserved against the quota while the job is active.")
    minutes_charged: int | None = Field(description="Minutes charged once, at completion.")
    enhancer: str | None
    priority: int
    attempts: int
    max_attempts: int
    cancel_requested: bool
    created_at: datetime
    queued_at: datetime | None
    started_at: datetime | None
    completed_at: datetime | None
    updated_at: datetime
    queue_position: int | None = Field(None, description="While QUEUED: 1 = the next job a worker takes.")
    estimated_start_at: datetime | None = Field(
        None, description="While QUEUED: when a worker should take it (from recent jobs' length)."
    )


class JobPage(CamelModel):
    items: list[JobOut]
    total: int = Field(description="Jobs matching the filter, across all pages.")
    limit: int
    offset: int
