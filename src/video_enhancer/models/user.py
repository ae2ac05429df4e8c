from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Boolean, Enum, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from video_enhancer.models.base import Base, TimestampMixin, new_uuid, utcnow
from video_enhancer.models.enums import Plan


class User(TimestampMixin, Base):
    __tablename__ = "users"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_uuid)
    email: Mapped[str] = mapped_column(String(320), unique=True)  # stored lower-cased
    password_hash: Mapped[str] = mapped_column(String(100))
    plan: Mapped[Plan] = mapped_column(Enum(Plan, native_enum=False, length=16), default=Plan.FREE)
    is_admin: Mapped[bool] = mapped_column(Boolean, default=False)
    minutes_used_this_month: Mapped[int] = mapped_column(Integer, default=0)
    billing_cycle_start: Mapped[datetime] = mapped_column(default=utcnow)
    # Lifetime count of videos ever created; deleting a video does not give a FREE upload back.
    videos_created: Mapped[int] = mapped_column(Integer, default=0)
    email_verified_at: Mapped[datetime | None] = mapped_column(default=None)
    # Set when the owner deleted the account: the row stays, stripped of the email and password,
    # so the anonymised usage of its jobs survives.
    deleted_at: Mapped[datetime | None] = mapped_column(default=None)
