from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Enum, Float, ForeignKey, Index, Integer, String, Text, true
from sqlalchemy.orm import Mapped, mapped_column

from video_enhancer.models.base import Base, TimestampMixin, new_uuid
from video_enhancer.models.enums import JobStatus


class Job(TimestampMixin, Base):
    """A processing job; the row is also the queue entry (status QUEUED, ordered by `queue_rank`)."""

    __tablename__ = "jobs"
    __table_args__ = (
        Index("ix_jobs_status_queue_rank", "status", "queue_rank"),
        # The start estimate reads the latest completed jobs on every poll (`jobs.outlook`).
        Index("ix_jobs_status_completed_at", "status", "completed_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_uuid)
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    video_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("videos.id", ondelete="CASCADE"), index=True)
    status: Mapped[JobStatus] = mapped_column(
        Enum(JobStatus, native_enum=False, length=20), default=JobStatus.AWAITING_UPLOAD
    )
    # Plan priority (FREE 0, CREATOR 1, PRO 2) snapshotted at creation.
    priority: Mapped[int] = mapped_column(Integer, default=0)
    # Claim order, ascending: queued_at epoch minus priority x aging interval, so a higher plan
    # jumps ahead by a bounded time and a FREE job is never starved.
    queue_rank: Mapped[float | None] = mapped_column(Float, default=None)
    queued_at: Mapped[datetime | None] = mapped_column(default=None)
    run_after: Mapped[datetime | None] = mapped_column(default=None)  # retry back-off

    # Progress, updated by the worker at most about once a second.
    stage: Mapped[str | None] = mapped_column(String(32), default=None)
    progress_percent: Mapped[float] = mapped_column(Float, default=0.0)
    frames_done: Mapped[int | None] = mapped_column(Integer, default=None)
    frames_total: Mapped[int | None] = mapped_column(Integer, default=None)
    fps: Mapped[float | None] = mapped_column(Float, default=None)
    eta_seconds: Mapped[float | None] = mapped_column(Float, default=None)

    error_code: Mapped[str | None] = mapped_column(String(64), default=None)
    error_message: Mapped[str | None] = mapped_column(Text, default=None)

    # Quota: minutes reserved at upload time, and minutes charged once at completion.
    minutes_held: Mapped[int] = mapped_column(Integer, default=0)
    minutes_charged: Mapped[int | None] = mapped_column(Integer, default=None)
    # The job took one of the plan's videos (and its minutes are held). False for an upload
    # made with autoStart false until `POST /videos/{videoId}/jobs` starts it.
    holds_video: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())

    # Plan limits snapshotted at creation so a plan change does not alter a job in flight.
    max_duration_seconds: Mapped[int] = mapped_column(Integer, default=30)
    max_output_height: Mapped[int] = mapped_column(Integer, default=720)

    attempts: Mapped[int] = mapped_column(Integer, default=0)
    max_attempts: Mapped[int] = mapped_column(Integer, default=3)
    lease_owner: Mapped[str | None] = mapped_column(String(128), default=None)
    lease_expires_at: Mapped[datetime | None] = mapped_column(default=None, index=True)
    cancel_requested: Mapped[bool] = mapped_column(Boolean, default=False)

    enhancer: Mapped[str | None] = mapped_column(String(64), default=None)
    batch_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("batches.id", ondelete="SET NULL"), default=None, index=True
    )
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    # Fidelity of the output to the source: {"psnrDb", "ssim", "sampledFrames"} (media.quality).
    quality: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    request_id: Mapped[str | None] = mapped_column(String(64), default=None)

    started_at: Mapped[datetime | None] = mapped_column(default=None)
    completed_at: Mapped[datetime | None] = mapped_column(default=None)

    @property
    def content_credentials(self) -> dict[str, Any] | None:
        return content_credentials_in(self.result)


def content_credentials_in(result: dict[str, Any] | None) -> dict[str, Any] | None:
    """The C2PA manifest the worker signed and read back (in a job's `result`), if any."""
    return (result or {}).get("contentCredentials")
