from __future__ import annotations

import enum


class Plan(enum.StrEnum):
    FREE = "FREE"
    CREATOR = "CREATOR"
    PRO = "PRO"


class JobStatus(enum.StrEnum):
    AWAITING_UPLOAD = "AWAITING_UPLOAD"
    UPLOADED = "UPLOADED"
    QUEUED = "QUEUED"
    PROCESSING = "PROCESSING"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"
    CANCELED = "CANCELED"

    @property
    def is_terminal(self) -> bool:
        return self in TERMINAL_STATUSES


TERMINAL_STATUSES = frozenset({JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.CANCELED})
ACTIVE_STATUSES = frozenset(set(JobStatus) - TERMINAL_STATUSES)


class JobStage(enum.StrEnum):
    DOWNLOADING = "downloading"
    PROBING = "probing"
    ENHANCING = "enhancing"
    ENCODING = "encoding"
    UPLOADING = "uploading"
    VERIFYING = "verifying"
