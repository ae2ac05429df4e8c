"""Bodies of the /webhooks routes."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from video_enhancer.models import DeliveryStatus

SubscribableEvent = Literal[
    "video.uploaded",
    "job.queued",
    "job.processing",
    "job.progress",
    "job.completed",
    "job.failed",
    "job.canceled",
]


class CamelModel(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, from_attributes=True)


class WebhookIn(CamelModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid")

    url: str = Field(max_length=2048, description="https URL of your receiver (http allowed in development).")
    events: list[SubscribableEvent] = Field(min_length=1, max_length=7, description="Event types to receive.")


class WebhookOut(CamelModel):
    id: uuid.UUID
    url: str
    events: list[str]
    enabled: bool
    disabled_reason: str | None = Field(
        description="Why the endpoint was disabled (after 3 days of failures)."
    )
    created_at: datetime


class WebhookCreated(WebhookOut):
    secret: str = Field(description="`whsec_` + base64: shown only when created or rotated.")


class DeliveryOut(CamelModel):
    id: uuid.UUID
    event_type: str
    event_id: int | None = Field(description="The event's id (null for webhook.test).")
    message_id: str = Field(description="The `webhook-id` header, the same on every attempt.")
    status: DeliveryStatus
    attempts: int
    next_attempt_at: datetime | None
    last_attempt_at: datetime | None
    last_status_code: int | None
    last_error: str | None
    created_at: datetime
