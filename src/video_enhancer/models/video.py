from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import BigInteger, Float, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from video_enhancer.models.base import Base, TimestampMixin, new_uuid


class Video(TimestampMixin, Base):
    __tablename__ = "videos"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_uuid)
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    original_filename: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(100))
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    claimed_duration_seconds: Mapped[float] = mapped_column(Float)
    # Measured by the worker's probe; the only duration that is ever charged.
    duration_seconds: Mapped[float | None] = mapped_column(Float, default=None)
    resolution: Mapped[str | None] = mapped_column(String(32), default=None)  # "WIDTHxHEIGHT"
    storage_path: Mapped[str] = mapped_column(String(1024))
    output_storage_path: Mapped[str | None] = mapped_column(String(1024), default=None)
    output_resolution: Mapped[str | None] = mapped_column(String(32), default=None)
    output_size_bytes: Mapped[int | None] = mapped_column(BigInteger, default=None)
    upload_expires_at: Mapped[datetime | None] = mapped_column(default=None)
    uploaded_at: Mapped[datetime | None] = mapped_column(default=None)
    deleted_at: Mapped[datetime | None] = mapped_column(default=None, index=True)
    frame_count: Mapped[int | None] = mapped_column(Integer, default=None)
    # When the retention sweep deleted the uploaded original of a failed or canceled job.
    raw_deleted_at: Mapped[datetime | None] = mapped_column(default=None)
    # Pictures (enhanced area): the source's poster and storyboard, made by the worker's light
    # task ahead of paid work for every completed upload; the output's poster at completion.
    thumbnail_path: Mapped[str | None] = mapped_column(String(1024), default=None)
    storyboard_path: Mapped[str | None] = mapped_column(String(1024), default=None)
    output_thumbnail_path: Mapped[str | None] = mapped_column(String(1024), default=None)
    poster_attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    poster_claimed_at: Mapped[datetime | None] = mapped_column(default=None)
