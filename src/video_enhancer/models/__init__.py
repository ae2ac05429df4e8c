"""ORM models, one file per table."""

from video_enhancer.models.base import Base, table_of, utcnow
from video_enhancer.models.batch import Batch
from video_enhancer.models.email_token import EmailToken
from video_enhancer.models.enums import (
    ACTIVE_STATUSES,
    TERMINAL_STATUSES,
    DeliveryStatus,
    EventType,
    JobStage,
    JobStatus,
    Plan,
    PreviewStatus,
)
from video_enhancer.models.event_counter import EventCounter
from video_enhancer.models.idempotency_key import IdempotencyKey
from video_enhancer.models.job import Job
from video_enhancer.models.job_event import JobEvent
from video_enhancer.models.login_attempt import LoginAttempt
from video_enhancer.models.mail_message import MailMessage
from video_enhancer.models.outbox import OutboxMessage
from video_enhancer.models.preview import Preview
from video_enhancer.models.refresh_token import RefreshToken
from video_enhancer.models.usage import UsageEntry
from video_enhancer.models.user import User
from video_enhancer.models.video import Video
from video_enhancer.models.webhook_delivery import WebhookDelivery
from video_enhancer.models.webhook_endpoint import WebhookEndpoint
from video_enhancer.models.worker_enhancer import WorkerEnhancer

__all__ = [
    "ACTIVE_STATUSES",
    "TERMINAL_STATUSES",
    "Base",
    "Batch",
    "DeliveryStatus",
    "EmailToken",
    "EventCounter",
    "EventType",
    "IdempotencyKey",
    "Job",
    "JobEvent",
    "JobStage",
    "JobStatus",
    "LoginAttempt",
    "MailMessage",
    "OutboxMessage",
    "Plan",
    "Preview",
    "PreviewStatus",
    "RefreshToken",
    "UsageEntry",
    "User",
    "Video",
    "WebhookDelivery",
    "WebhookEndpoint",
    "WorkerEnhancer",
    "table_of",
    "utcnow",
]
