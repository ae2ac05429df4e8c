"""A batch's status from its jobs' statuses (imported by the event log: no domain imports here)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from video_enhancer.models import JobStatus

BatchStatus = Literal["QUEUED", "PROCESSING", "COMPLETED", "PARTIAL", "FAILED", "CANCELED"]


def aggregate_status(statuses: Sequence[JobStatus]) -> BatchStatus:
    if any(not status.is_terminal for status in statuses):
        return "PROCESSING" if JobStatus.PROCESSING in statuses else "QUEUED"
    completed = sum(status == JobStatus.COMPLETED for status in statuses)
    if completed == len(statuses):
        return "COMPLETED"
    if completed:
        return "PARTIAL"
    return "CANCELED" if all(status == JobStatus.CANCELED for status in statuses) else "FAILED"
