from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from video_enhancer.models.base import Base, utcnow


class JobEvent(Base):
    """One entry of a user's event log, written in the transaction of the change it reports.

    `seq` is the id clients see (`id:` of a Server-Sent Event, `Last-Event-ID`): it increases by
    one per event of the same user, assigned under that user's counter row lock, so events commit
    in `seq` order and a reader that saw `seq` n has already seen every smaller one.
    """

    __tablename__ = "job_events"
    __table_args__ = (
        UniqueConstraint("user_id", "seq", name="uq_job_events_user_id_seq"),
        Index("ix_job_events_job_id_seq", "job_id", "seq"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    user_id: Mapped[uuid.UUID] = mapped_column()  # no foreign key: see EventCounter
    seq: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"))
    job_id: Mapped[uuid.UUID | None] = mapped_column(default=None)
    video_id: Mapped[uuid.UUID | None] = mapped_column(default=None)
    type: Mapped[str] = mapped_column(String(40))
    data: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
