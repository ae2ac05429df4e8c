from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Enum, Float, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from video_enhancer.models.base import Base, TimestampMixin, new_uuid
from video_enhancer.models.enums import PreviewStatus


class Preview(TimestampMixin, Base):
    """A free before/after preview of a short span of a video (never charged)."""

    __tablename__ = "previews"
    __table_args__ = (Index("ix_previews_status_created_at", "status", "created_at"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_uuid)
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    video_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("videos.id", ondelete="CASCADE"), index=True)
    status: Mapped[PreviewStatus] = mapped_column(
        Enum(PreviewStatus, native_enum=False, length=20), default=PreviewStatus.QUEUED
    )
    # What was asked: None = "where the source has most detail"; a repeat of it is the same preview.
    requested_start_seconds: Mapped[float | None] = mapped_column(Float, default=None)
    seconds: Mapped[float] = mapped_column(Float)
    max_output_height: Mapped[int] = mapped_column(Integer)
    start_seconds: Mapped[float | None] = mapped_column(Float, default=None)  # the span chosen
    enhancer: Mapped[str | None] = mapped_column(String(64), default=None)
    quality: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    # The C2PA manifest signed into `after` and read back (`provenance`); None when signing is off.
    content_credentials: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    error_code: Mapped[str | None] = mapped_column(String(64), default=None)
    error_message: Mapped[str | None] = mapped_column(Text, default=None)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    lease_owner: Mapped[str | None] = mapped_column(String(128), default=None)
    lease_expires_at: Mapped[datetime | None] = mapped_column(default=None)
    completed_at: Mapped[datetime | None] = mapped_column(default=None)
