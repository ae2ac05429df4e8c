from __future__ import annotations

import uuid

from sqlalchemy import BigInteger, Integer
from sqlalchemy.orm import Mapped, mapped_column

from video_enhancer.models.base import Base


class EventCounter(Base):
    """The last event `seq` given to a user; its row lock orders that user's event commits."""

    __tablename__ = "event_counters"

    # No foreign key to users: its check would take a key-share lock on the user row after this
    # row's lock, the reverse of the order transitions use (job, user, then the event counter),
    # and deadlock with them. Users are never deleted (deletion keeps an anonymous row).
    user_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    last_seq: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), default=0)
