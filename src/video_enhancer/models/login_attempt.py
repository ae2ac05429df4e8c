from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from video_enhancer.models.base import Base, utcnow


class LoginAttempt(Base):
    """Failed login attempts, shared by every API instance for rate limiting."""

    __tablename__ = "login_attempts"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    key: Mapped[str] = mapped_column(String(400), index=True)  # e.g. "email:<sha256>" or "ip:<addr>"
    attempted_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
