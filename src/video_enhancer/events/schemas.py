"""The event JSON, the same in the stream (`data:`) and in webhook bodies."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from video_enhancer.models import EventType, JobStatus


class CamelModel(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)


class EventData(CamelModel):
    """Fields by type: `job.queued` adds queuePosition and estimatedStartAt; `job.progress` stage,
    progressPercent, framesDone, framesTotal, fps, etaSeconds; `job.completed` minutesCharged,
    outputSizeBytes, enhancer; `job.failed` errorCode, errorMessage; `video.uploaded` sizeBytes."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="allow")

    job_id: uuid.UUID | None = None
    video_id: uuid.UUID | None = None
    status: JobStatus | None = None
    queue_position: int | None = Field(None, description="job.queued: 1 = the next job a worker takes.")
    estimated_start_at: datetime | None = Field(None, description="job.queued: when a worker should take it.")
    stage: str | None = None
    progress_percent: float | None = None
    frames_done: int | None = None
    frames_total: int | None = None
    fps: float | None = None
    eta_seconds: float | None = None
    minutes_charged: int | None = None
    output_size_bytes: int | None = None
    enhancer: str | None = None
    error_code: str | None = None
    error_message: str | None = None


class EventOut(CamelModel):
    id: int | None = Field(
        description="Increases by one per event of the user; `Last-Event-ID` resumes after it."
    )
    type: EventType
    timestamp: datetime
    data: EventData


class StreamTokenOut(CamelModel):
    token: str = Field(description="Pass as `?token=` to /events or /jobs/{id}/events; read-only.")
    expires_in: int = Field(description="Seconds the token stays valid.")
