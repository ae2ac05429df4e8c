"""Bodies of the preview routes."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import AliasChoices, Field

from video_enhancer.api.schemas import CamelModel, CamelRequest
from video_enhancer.jobs.schemas import ContentCredentialsOut, QualityOut
from video_enhancer.models import PreviewStatus


class PreviewRequest(CamelRequest):
    start_seconds: float | None = Field(
        None,
        ge=0,
        le=86_400,
        allow_inf_nan=False,
        description="Where the span starts; by default where the source has the most detail.",
    )


class PreviewOut(CamelModel):
    id: uuid.UUID
    video_id: uuid.UUID
    status: PreviewStatus
    requested_start_seconds: float | None
    start_seconds: float | None = Field(description="The span's start, once made.")
    seconds: float
    enhancer: str | None = Field(
        description="The enhancer the video's job asks for, then the one that made `after`."
    )
    output_height: int = Field(
        validation_alias=AliasChoices("max_output_height", "outputHeight"),
        description="Output height limit in pixels: the job's, so `after` has the full job's size.",
    )
    quality: QualityOut | None = Field(description="Fidelity of `after` to the source span.")
    content_credentials: ContentCredentialsOut | None = Field(
        None, description="C2PA Content Credentials signed into `after` (null when signing is off)."
    )
    error_code: str | None
    error_message: str | None
    before_url: str | None = Field(description="The span resized with a plain bicubic scaler (signed).")
    after_url: str | None = Field(description="The enhanced span, encoded like the full job (signed).")
    comparison_image_url: str | None = Field(description="One frame, before | after, JPEG (signed).")
    urls_expire_at: datetime | None
    created_at: datetime
    completed_at: datetime | None
