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


class PreviewStatus(enum.StrEnum):
    QUEUED = "QUEUED"
    PROCESSING = "PROCESSING"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"


class DeliveryStatus(enum.StrEnum):
    PENDING = "PENDING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"


class EventType(enum.StrEnum):
    """The types of the event log (`event:` of a Server-Sent Event, `type` of a webhook)."""

    VIDEO_UPLOADED = "video.uploaded"
    JOB_QUEUED = "job.queued"
    JOB_PROCESSING = "job.processing"
    JOB_PROGRESS = "job.progress"
    JOB_COMPLETED = "job.completed"
    JOB_FAILED = "job.failed"
    JOB_CANCELED = "job.canceled"
    BATCH_COMPLETED = "batch.completed"
    WEBHOOK_TEST = "webhook.test"
    PREVIEW_COMPLETED = "preview.completed"
    PREVIEW_FAILED = "preview.failed"

    @property
    def ends_job(self) -> bool:
        return self in {EventType.JOB_COMPLETED, EventType.JOB_FAILED, EventType.JOB_CANCELED}
