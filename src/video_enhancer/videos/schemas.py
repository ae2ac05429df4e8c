"""Request and response bodies of the /videos routes."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import Field

from video_enhancer.api.schemas import CamelModel, CamelRequest
from video_enhancer.jobs.schemas import EnhancerName, JobOut
from video_enhancer.models import JobStatus
from video_enhancer.previews.schemas import PreviewOut

MAX_SIZE_BYTES = 1 << 50  # far above any plan: the plan check answers 413, not a 422


class EnhanceOptions(CamelRequest):
    """The options of one job, each optional (docs/enhancers.md#choosing-an-enhancer-per-job)."""

    enhancer: EnhancerName | None = Field(
        None,
        description="The enhancer to run (see GET /enhancers); default: the service's default, or for "
        "`POST /videos/{videoId}/jobs` the one the upload resolved.",
    )
    output_height: int | None = Field(
        None,
        ge=144,
        le=4320,
        description="Output height limit in pixels, up to the plan's maximum (the default; for "
        "`POST /videos/{videoId}/jobs` the upload's value within the plan's maximum).",
    )


class UploadRequest(EnhanceOptions):
    filename: str = Field(min_length=1, max_length=255, description="The file's name on the phone.")
    content_type: str = Field(
        min_length=1,
        max_length=100,
        description="video/mp4, video/quicktime, video/x-matroska, video/webm, ...",
    )
    size_bytes: int = Field(gt=0, le=MAX_SIZE_BYTES, description="Exact size of the file to upload.")
    duration_seconds: float = Field(
        gt=0, le=86_400, allow_inf_nan=False, description="Duration as measured by the app."
    )
    resumable: bool = Field(
        False,
        description="Hand out a resumable upload session (PUT pieces with Content-Range) instead of "
        "a single-PUT URL.",
    )
    auto_start: bool = Field(
        True,
        description="Queue the job as soon as the upload completes (quota hold placed now). With "
        "false the video waits UPLOADED, holding nothing, until `POST /videos/{videoId}/jobs`.",
    )
    width: int | None = Field(
        None, gt=0, le=16_384, description="Width of the picture as shown (upright), if the app knows it."
    )
    height: int | None = Field(
        None, gt=0, le=16_384, description="Height of the picture as shown (upright), if the app knows it."
    )


class UploadUrlRequest(CamelRequest):
    resumable: bool = Field(False, description="A resumable upload session instead of a single-PUT URL.")


class SizeOut(CamelModel):
    width: int
    height: int


class SizePlanOut(CamelModel):
    """The sizes of the pipeline (docs/worker.md#output-size-policy)."""

    source_size: SizeOut = Field(description="The upright source picture.")
    model_input_size: SizeOut = Field(description="What the enhancer receives.")
    output_size: SizeOut = Field(description="The enhanced video's size.")
    enhancer: str


class UploadTicket(CamelModel):
    upload_url: str = Field(description="Signed URL; PUT the file's bytes to it before it expires.")
    upload_method: Literal["PUT"] = "PUT"
    upload_protocol: Literal["single", "resumable"] = Field(
        "single",
        description="single: PUT the whole file once. resumable: PUT pieces with `Content-Range: "
        "bytes FIRST-LAST/TOTAL` (308 until the last); `Content-Range: bytes */TOTAL` with an empty "
        "body asks how many bytes arrived (308 with `Range: bytes=0-N`).",
    )
    upload_headers: dict[str, str] = Field(description="Headers the upload request must carry.")
    upload_expires_at: datetime
    video_id: uuid.UUID
    job_id: uuid.UUID
    enhancer: EnhancerName = Field(description="The enhancer the job will run with (resolved).")
    output_height: int = Field(description="The job's output height limit in pixels (resolved).")
    planned_sizes: SizePlanOut | None = Field(
        None, description="The size plan for the claimed width and height, when the request gave them."
    )


class VideoOut(CamelModel):
    id: uuid.UUID
    original_filename: str
    content_type: str
    size_bytes: int
    claimed_duration_seconds: float = Field(description="Duration the app declared.")
    duration_seconds: float | None = Field(description="Duration measured by the worker.")
    resolution: str | None
    output_resolution: str | None
    output_size_bytes: int | None
    status: JobStatus | None = Field(description="Status of the video's latest job.")
    upload_expires_at: datetime | None
    uploaded_at: datetime | None
    created_at: datetime
    source_size: SizeOut | None = Field(None, description="Upright source size, once probed.")
    model_input_size: SizeOut | None = Field(None, description="What the enhancer receives, once probed.")
    output_size: SizeOut | None = Field(None, description="The output's size, once probed.")
    enhancer: str | None = Field(None, description="The enhancer of the latest job.")
    thumbnail_url: str | None = Field(
        None, description="Signed URL of the source's poster (JPEG, upright), once the upload is processed."
    )
    output_thumbnail_url: str | None = Field(None, description="Signed URL of the output's poster (JPEG).")


class VideoDetail(VideoOut):
    jobs: list[JobOut] = Field(description="The video's jobs, newest first.")
    download_url: str | None = Field(description="Signed URL of the enhanced video, once it exists.")
    download_expires_at: datetime | None
    source_url: str | None = Field(
        None,
        description="Signed URL of the uploaded original (same lifetime as downloadUrl), once the "
        "upload is complete: for a before/after comparison.",
    )
    storyboard_url: str | None = Field(
        None, description="Signed URL of the storyboard sprite sheet (videos over 10 s)."
    )
    storyboard_timing_url: str | None = Field(
        None,
        description="Signed URL of the storyboard's timing JSON: tileWidth, tileHeight, tiles[start, x, y].",
    )
    previews: list[PreviewOut] = Field(
        default_factory=list, description="Before/after previews, newest first."
    )


class VideoPage(CamelModel):
    items: list[VideoOut]
    total: int = Field(description="Your videos across all pages.")
    limit: int
    offset: int
