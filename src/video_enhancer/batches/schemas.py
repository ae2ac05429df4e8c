from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import Field

from video_enhancer.api.schemas import CamelModel, CamelRequest
from video_enhancer.batches.status import BatchStatus
from video_enhancer.models import JobStatus
from video_enhancer.videos.schemas import UploadRequest, UploadTicket

MAX_BATCH_SIZE = 100
"""Hard cap of the request schema; `VE_MAX_BATCH_SIZE` (20) is the deployment's limit below it."""


class BatchRequest(CamelRequest):
    videos: list[UploadRequest] = Field(
        min_length=1, max_length=MAX_BATCH_SIZE, description="The videos, each as for POST /videos/upload."
    )


class BatchTickets(CamelModel):
    batch_id: uuid.UUID
    videos: list[UploadTicket]


class BatchVideo(CamelModel):
    video_id: uuid.UUID
    job_id: uuid.UUID
    status: JobStatus
    frames_done: int | None
    frames_total: int | None


class BatchOut(CamelModel):
    id: uuid.UUID
    created_at: datetime
    status: BatchStatus = Field(
        description="QUEUED or PROCESSING while any job runs; then COMPLETED, PARTIAL (some failed "
        "or were canceled), FAILED or CANCELED."
    )
    progress_percent: float = Field(ge=0, le=100, description="Frames done over frames known, all videos.")
    minutes_held: int
    minutes_charged: int
    videos: list[BatchVideo]


class BatchPage(CamelModel):
    items: list[BatchOut]
