from __future__ import annotations

from datetime import datetime

from sqlalchemy import Float, String
from sqlalchemy.orm import Mapped, mapped_column

from video_enhancer.models.base import Base


class WorkerEnhancer(Base):
    """An enhancer a worker has loaded, refreshed by the worker's maintenance loop (its heartbeat).

    `GET /enhancers` calls an enhancer available while a row of it is fresher than the live window.
    """

    __tablename__ = "worker_enhancers"

    worker_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    enhancer: Mapped[str] = mapped_column(String(64), primary_key=True)
    device: Mapped[str | None] = mapped_column(String(32), default=None)
    frames_per_second_720p: Mapped[float | None] = mapped_column(Float, default=None)
    """Measured on this worker's last completed job, scaled to 1280x720 output pixels."""
    seen_at: Mapped[datetime] = mapped_column(index=True)
