from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, Integer
from sqlalchemy.orm import Mapped, mapped_column

from video_enhancer.models.base import Base, new_uuid, utcnow


class UsageEntry(Base):
    """The usage ledger: one row per charged job (the unique job id makes charging idempotent)."""

    __tablename__ = "usage_ledger"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_uuid)
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    job_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"), unique=True)
    minutes: Mapped[int] = mapped_column(Integer)
    measured_duration_seconds: Mapped[float]
    cycle_start: Mapped[datetime]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
