"""Webhook endpoints of a user, and the deliveries the event log creates for them."""

from __future__ import annotations

import json
import random
import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.orm import Session

from video_enhancer.config import Settings
from video_enhancer.errors import InvalidState, NotFound
from video_enhancer.models import (
    DeliveryStatus,
    EventType,
    JobEvent,
    User,
    WebhookDelivery,
    WebhookEndpoint,
    utcnow,
)
from video_enhancer.webhooks import signing, ssrf

if TYPE_CHECKING:
    pass

# Delay before each retry (after attempt 1, 2, ...): about 31 hours in all, then the delivery fails.
RETRY_SCHEDULE_SECONDS = (5, 30, 120, 600, 1800, 3600, 7200, 14400, 28800, 28800, 28800)
MAX_ATTEMPTS = len(RETRY_SCHEDULE_SECONDS) + 1
JITTER = 0.1
SUBSCRIBABLE = tuple(t.value for t in EventType if t is not EventType.WEBHOOK_TEST)


class WebhookNotFound(NotFound):
    default_message = "The webhook does not exist."


def create_endpoint(
    session: Session, user: User, url: str, event_types: Sequence[str], settings: Settings
) -> WebhookEndpoint:
    check_url(url, settings)
    endpoint = WebhookEndpoint(
        user_id=user.id, url=url, event_types=sorted(set(event_types)), secret=signing.new_secret()
    )
    session.add(endpoint)
    session.flush()
    return endpoint


def check_url(url: str, settings: Settings) -> ssrf.Target:
    return ssrf.resolve(
        url,
        require_https=settings.env == "production",
        allow_private=settings.webhook_allow_private,
    )


def get_endpoint(session: Session, user: User, endpoint_id: uuid.UUID) -> WebhookEndpoint:
    endpoint = session.get(WebhookEndpoint, endpoint_id)
    if endpoint is None or endpoint.user_id != user.id:
        raise WebhookNotFound()
    return endpoint


def list_endpoints(session: Session, user: User) -> Sequence[WebhookEndpoint]:
    return session.scalars(
        select(WebhookEndpoint).where(WebhookEndpoint.user_id == user.id).order_by(WebhookEndpoint.created_at)
    ).all()


def delete_endpoint(session: Session, user: User, endpoint_id: uuid.UUID) -> None:
    session.delete(get_endpoint(session, user, endpoint_id))


def rotate_secret(session: Session, user: User, endpoint_id: uuid.UUID) -> WebhookEndpoint:
    endpoint = get_endpoint(session, user, endpoint_id)
    endpoint.secret = signing.new_secret()
    return endpoint


def enable_endpoint(session: Session, user: User, endpoint_id: uuid.UUID) -> WebhookEndpoint:
    endpoint = get_endpoint(session, user, endpoint_id)
    endpoint.enabled, endpoint.disabled_reason, endpoint.failing_since = True, None, None
    return endpoint


def list_deliveries(
    session: Session, user: User, endpoint_id: uuid.UUID, limit: int, offset: int
) -> Sequence[WebhookDelivery]:
    get_endpoint(session, user, endpoint_id)
    return session.scalars(
        select(WebhookDelivery)
        .where(WebhookDelivery.endpoint_id == endpoint_id)
        .order_by(WebhookDelivery.created_at.desc(), WebhookDelivery.id)
        .limit(limit)
        .offset(offset)
    ).all()


def retry_delivery(
    session: Session, user: User, endpoint_id: uuid.UUID, delivery_id: uuid.UUID
) -> WebhookDelivery:
    endpoint = get_endpoint(session, user, endpoint_id)
    delivery = session.get(WebhookDelivery, delivery_id)
    if delivery is None or delivery.endpoint_id != endpoint.id:
        raise WebhookNotFound("The delivery does not exist.")
    if delivery.status is DeliveryStatus.PENDING:
        raise InvalidState("The delivery is already waiting to be sent.")
    delivery.status, delivery.next_attempt_at, delivery.locked_until = DeliveryStatus.PENDING, utcnow(), None
    return delivery


def send_test(session: Session, user: User, endpoint_id: uuid.UUID) -> WebhookDelivery:
    endpoint = get_endpoint(session, user, endpoint_id)
    message_id = f"msg_test_{uuid.uuid4().hex}"
    body = {
        "id": None,
        "type": EventType.WEBHOOK_TEST.value,
        "timestamp": utcnow().isoformat().replace("+00:00", "Z"),
        "data": {"webhookId": str(endpoint.id)},
    }
    return _add_delivery(session, endpoint, message_id, EventType.WEBHOOK_TEST.value, None, json.dumps(body))


def enqueue_deliveries(session: Session, event: JobEvent) -> None:
    """One delivery per enabled endpoint of the event's user that subscribed to its type."""
    from video_enhancer.events.service import event_text

    endpoints = session.scalars(
        select(WebhookEndpoint).where(WebhookEndpoint.user_id == event.user_id, WebhookEndpoint.enabled)
    ).all()
    for endpoint in endpoints:
        if event.type in endpoint.event_types:
            message_id = f"msg_{event.user_id.hex}_{event.seq}"
            _add_delivery(session, endpoint, message_id, event.type, event.seq, event_text(event))


def _add_delivery(
    session: Session,
    endpoint: WebhookEndpoint,
    message_id: str,
    event_type: str,
    seq: int | None,
    payload: str,
) -> WebhookDelivery:
    delivery = WebhookDelivery(
        endpoint_id=endpoint.id,
        message_id=message_id,
        event_type=event_type,
        event_seq=seq,
        payload=payload,
        status=DeliveryStatus.PENDING,
        next_attempt_at=utcnow(),
    )
    session.add(delivery)
    session.flush()
    return delivery


def next_attempt_delay(attempts: int, scale: float = 1.0) -> float | None:
    """Seconds until the next try after `attempts` failed ones; None when the schedule is spent."""
    if attempts >= MAX_ATTEMPTS:
        return None
    base = RETRY_SCHEDULE_SECONDS[attempts - 1] * scale
    return base * random.uniform(1 - JITTER, 1 + JITTER)


def schedule_total_seconds() -> int:
    return sum(RETRY_SCHEDULE_SECONDS)


def disable_if_failing_too_long(
    endpoint: WebhookEndpoint, now: datetime, after_seconds: int, why: str
) -> bool:
    if endpoint.failing_since is None:
        endpoint.failing_since = now
    if now - endpoint.failing_since < timedelta(seconds=after_seconds):
        return False
    endpoint.enabled = False
    endpoint.disabled_reason = f"Disabled after failing since {endpoint.failing_since.isoformat()}: {why}"
    return True
