"""Cloud Pub/Sub transport: message format, priority tiers, clients and the outbox relay.

The job row stays the source of truth (docs/adr/0005-pubsub-priority.md):

* `enqueue_job` writes an `OutboxMessage` in the same transaction that makes the job QUEUED;
* the relay (`relay_outbox_once`, `OutboxRelay`) publishes unpublished rows and stamps
  `published_at`. A crash after the commit and before the publish leaves the row unpublished and
  the next pass publishes it; a crash after the publish and before the stamp publishes it again.
  Delivery is therefore at-least-once, and the consumer claims the job row before working, so a
  duplicate costs nothing;
* consumers live in `pubsub_worker.py`, topic and subscription set-up in `pubsub_admin.py`.

Message body, as the architecture document says, plus the job's enhancer::

    {"jobId": "...", "videoId": "...", "userId": "...", "inputPath": "...", "priority": 2,
     "enhancer": "lanczos"}

with `priority` and `enhancer` (and `jobId`) repeated as attributes: each job subscription
filters on one (enhancer, priority) pair, so a worker sees only the jobs of the enhancers it has
loaded (docs/cloud.md, "Routing by enhancer").
"""

from __future__ import annotations

import json
import logging
import threading
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import grpc
from google.cloud import pubsub_v1
from google.pubsub_v1.services.publisher.transports import PublisherGrpcTransport
from google.pubsub_v1.services.subscriber.transports import SubscriberGrpcTransport
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from video_enhancer.config import Settings
from video_enhancer.db import session_scope
from video_enhancer.enhancers.registry import enhancer_names
from video_enhancer.models import OutboxMessage, Plan, utcnow

log = logging.getLogger(__name__)

SessionFactory = sessionmaker[Session]

# Plan priority numbers as `Job.priority` stores them, highest first.
PRIORITY_BY_PLAN: dict[Plan, int] = {Plan.PRO: 2, Plan.CREATOR: 1, Plan.FREE: 0}
TIER_NAMES: dict[int, str] = {2: "pro", 1: "creator", 0: "free"}
PRIORITIES_HIGH_FIRST: tuple[int, ...] = (2, 1, 0)
UPLOADS_TOPIC = "video-uploads"
PUBLISH_TIMEOUT_SECONDS = 30.0
_MAX_ERROR_CHARS = 1000


class PublishFuture(Protocol):
    def result(self, timeout: float | None = None) -> Any: ...


class MessagePublisher(Protocol):
    """The part of `pubsub_v1.PublisherClient` the relay uses."""

    def topic_path(self, project: str, topic: str) -> str: ...

    def publish(self, topic: str, data: bytes, **attrs: str) -> PublishFuture: ...


# -- the message ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class JobMessage:
    job_id: uuid.UUID
    video_id: uuid.UUID
    user_id: uuid.UUID
    input_path: str | None
    priority: int
    enhancer: str | None = None

    def to_payload(self) -> dict[str, Any]:
        payload: dict[str, Any] = {
            "jobId": str(self.job_id),
            "videoId": str(self.video_id),
            "userId": str(self.user_id),
            "inputPath": self.input_path,
            "priority": self.priority,
        }
        if self.enhancer is not None:
            payload["enhancer"] = self.enhancer
        return payload

    @classmethod
    def from_payload(cls, payload: Mapping[str, Any]) -> JobMessage:
        """Parse a message body; raises ValueError (or KeyError/TypeError) when it is malformed."""
        return cls(
            job_id=uuid.UUID(str(payload["jobId"])),
            video_id=uuid.UUID(str(payload["videoId"])),
            user_id=uuid.UUID(str(payload["userId"])),
            input_path=payload.get("inputPath"),
            priority=int(payload["priority"]),
            enhancer=payload.get("enhancer"),
        )

    @classmethod
    def from_bytes(cls, data: bytes) -> JobMessage:
        payload = json.loads(data.decode("utf-8"))
        if not isinstance(payload, dict):
            raise ValueError("The message body is not a JSON object.")
        return cls.from_payload(payload)


def encode_payload(payload: Mapping[str, Any]) -> bytes:
    return json.dumps(payload, separators=(",", ":"), sort_keys=True).encode("utf-8")


def message_attributes(payload: Mapping[str, Any], extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """Attributes of a job message: `priority` and `enhancer` for subscription filters, `jobId`
    for logs."""
    attributes = {str(k): str(v) for k, v in (extra or {}).items()}
    for name in ("priority", "enhancer", "jobId"):
        if payload.get(name) is not None:
            attributes[name] = str(payload[name])
    return attributes


# -- names ------------------------------------------------------------------------------------


def routed_enhancers() -> list[str]:
    """Every enhancer of the catalogue has job subscriptions, whether or not a worker offers it
    yet: a message that matches no subscription is dropped by Pub/Sub, and its job would wait
    for ever; in its enhancer's subscription it waits until a worker with that enhancer starts."""
    return enhancer_names()


def job_subscription(settings: Settings, enhancer: str, priority: int) -> str:
    """One subscription per (enhancer, plan priority) on the job topic, e.g.
    `video-jobs-subscription-lanczos-pro`."""
    return f"{settings.pubsub_subscription}-{enhancer}-{TIER_NAMES[priority]}"


def job_filter(enhancer: str, priority: int) -> str:
    return f'attributes.priority = "{priority}" AND attributes.enhancer = "{enhancer}"'


def legacy_tier_subscription(settings: Settings, priority: int) -> str:
    """The per-priority subscription of earlier releases (`video-jobs-subscription-pro`), whose
    filter ignores the enhancer; `cloud-setup --drop-legacy-subscriptions` removes it."""
    return f"{settings.pubsub_subscription}-{TIER_NAMES[priority]}"


def dead_letter_subscription(settings: Settings) -> str:
    return f"{settings.pubsub_dead_letter_topic}-subscription"


def uploads_topic(settings: Settings) -> str:
    return str(getattr(settings, "pubsub_uploads_topic", UPLOADS_TOPIC))


# -- clients ----------------------------------------------------------------------------------


def make_publisher(settings: Settings) -> pubsub_v1.PublisherClient:
    """A publisher for Google Cloud (ADC), or for the emulator at `VE_PUBSUB_EMULATOR_HOST`."""
    if settings.pubsub_emulator_host:
        channel = grpc.insecure_channel(settings.pubsub_emulator_host)
        return pubsub_v1.PublisherClient(transport=PublisherGrpcTransport(channel=channel))
    return pubsub_v1.PublisherClient()


def make_subscriber(settings: Settings) -> pubsub_v1.SubscriberClient:
    if settings.pubsub_emulator_host:
        channel = grpc.insecure_channel(settings.pubsub_emulator_host)
        return pubsub_v1.SubscriberClient(transport=SubscriberGrpcTransport(channel=channel))
    return pubsub_v1.SubscriberClient()


# -- the outbox relay -------------------------------------------------------------------------


def _unpublished(session: Session, batch_size: int) -> list[OutboxMessage]:
    query = (
        select(OutboxMessage)
        .where(OutboxMessage.published_at.is_(None))
        .order_by(OutboxMessage.id)
        .limit(batch_size)
    )
    if session.get_bind().dialect.name == "postgresql":
        # Concurrent relays (one per worker) take disjoint batches instead of publishing twice.
        query = query.with_for_update(skip_locked=True)
    return list(session.scalars(query))


def relay_outbox_once(
    session_factory: SessionFactory,
    publisher: MessagePublisher,
    project: str,
    *,
    batch_size: int = 100,
    timeout: float = PUBLISH_TIMEOUT_SECONDS,
) -> int:
    """Publish one batch of unpublished outbox rows; returns how many were published.

    The rows stay locked while their publishes are in flight and are stamped in the same
    transaction, so a row is stamped only once Pub/Sub has acknowledged it. A failed publish
    records the error and leaves the row for the next pass.
    """
    with session_scope(session_factory) as session:
        rows = _unpublished(session, batch_size)
        pending = [(row, _publish(publisher, project, row)) for row in rows]
        return sum(_settle(row, future, timeout) for row, future in pending)


def _publish(publisher: MessagePublisher, project: str, row: OutboxMessage) -> PublishFuture:
    topic = publisher.topic_path(project, row.topic)
    return publisher.publish(
        topic, encode_payload(row.payload), **message_attributes(row.payload, row.attributes)
    )


def _settle(row: OutboxMessage, future: PublishFuture, timeout: float) -> bool:
    row.attempts += 1
    try:
        future.result(timeout=timeout)
    except Exception as exc:  # any publish failure is retried on the next pass
        row.last_error = f"{type(exc).__name__}: {exc}"[:_MAX_ERROR_CHARS]
        log.warning("outbox publish failed", extra={"outbox_id": row.id, "error": row.last_error})
        return False
    row.published_at = utcnow()
    row.last_error = None
    return True


class OutboxRelay:
    """Runs `relay_outbox_once` in a loop until stopped (a thread in workers or the API)."""

    def __init__(
        self,
        session_factory: SessionFactory,
        publisher: MessagePublisher,
        project: str,
        *,
        interval_seconds: float = 0.5,
        batch_size: int = 100,
    ) -> None:
        self._session_factory = session_factory
        self._publisher = publisher
        self._project = project
        self._interval = interval_seconds
        self._batch_size = batch_size

    @classmethod
    def from_settings(cls, settings: Settings, session_factory: SessionFactory) -> OutboxRelay:
        return cls(session_factory, make_publisher(settings), settings.pubsub_project)

    def relay_once(self) -> int:
        return relay_outbox_once(
            self._session_factory, self._publisher, self._project, batch_size=self._batch_size
        )

    def run(self, stop: threading.Event) -> None:
        while not stop.is_set():
            try:
                published = self.relay_once()
            except Exception:  # the database may be briefly unavailable; keep relaying
                log.exception("outbox relay pass failed")
                published = 0
            # A full batch means more may be waiting: go again without sleeping.
            if published < self._batch_size:
                stop.wait(self._interval)
