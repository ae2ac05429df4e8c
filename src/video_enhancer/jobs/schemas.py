"""Response bodies of the /jobs routes (camelCase on the wire, like every body of the API)."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from typing import Literal

from pydantic import AliasChoices, Field

from video_enhancer.api.schemas import CamelModel
from video_enhancer.models import JobStage, JobStatus


class EnhancerName(enum.StrEnum):
    """The enhancers a job can run with (`video_enhancer.enhancers.ENHANCERS`)."""

    LANCZOS = "lanczos"
    STREAM_DIFFVSR = "stream-diffvsr"
    REALESRGAN_X4PLUS = "realesrgan-x4plus"
    REALESR_GENERAL_X4V3 = "realesr-general-x4v3"
    REALESR_ANIMEVIDEOV3 = "realesr-animevideov3"


class QualityOut(CamelModel):
    """Fidelity of the output to the source at the source's size, on sampled frames."""

    psnr_db: float = Field(
        description="PSNR in dB of the mean error over the sampled frames (capped at 100)."
    )
    ssim: float = Field(description="Mean SSIM of the luma, 1 = identical.")
    sampled_frames: int


class ContentCredentialsOut(CamelModel):
    """The C2PA Content Credentials signed into the output and read back before charging."""

    standard: str
    validation_state: str = Field(description="Valid, or Trusted when the signer is on a trust list.")
    digital_source_type: str
    source_sha256: str | None
    enhancer: str | None
    signer: str | None
    claim_generator: str


class JobOut(CamelModel):
    id: uuid.UUID
    video_id: uuid.UUID
    status: JobStatus
    stage: JobStage | None = Field(description="Pipeline stage while PROCESSING.")
    progress_percent: float = Field(ge=0, le=100)
    frames_done: int | None
    frames_total: int | None
    fps: float | None = Field(description="Enhancement speed, frames per second.")
    eta_seconds: float | None
    error_code: str | None = Field(
        description="Why a FAILED job failed (INVALID_VIDEO, DURATION_EXCEEDED, WORKER_LOST, ...): "
        "an open set written by workers, listed in docs/operations.md#job-error-codes."
    )
    error_message: str | None
    minutes_held: int = Field(description="Minutes reserved against the quota while the job is active.")
    minutes_charged: int | None = Field(description="Minutes charged once, at completion.")
    enhancer: EnhancerName | None = Field(
        description="The enhancer the job asked for, then the one that made the output."
    )
    output_height: int | None = Field(
        None,
        # the column's name when read from a job, the wire name when a stored answer is replayed
        validation_alias=AliasChoices("max_output_height", "outputHeight"),
        description="Output height limit in pixels (resolved).",
    )
    waiting_for: Literal["enhancer"] | None = Field(
        None, description='While QUEUED: "enhancer" when no live worker offers the job\'s enhancer.'
    )
    quality: QualityOut | None = Field(
        None, description="The output's fidelity to the source, once completed."
    )
    content_credentials: ContentCredentialsOut | None = Field(
        None, description="C2PA Content Credentials of the output (null when signing is off)."
    )
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
