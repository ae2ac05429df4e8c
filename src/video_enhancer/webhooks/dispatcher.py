"""Deliver pending webhooks: claim due deliveries (like jobs), POST them, record the outcome.

Any number of dispatchers run side by side: a delivery is claimed by a conditional update that
sets `locked_until`, so two never send the same delivery at the same time. At-least-once: a
dispatcher killed mid-send leaves the claim to expire, and another sends it again with the same
`webhook-id`, which receivers use to drop duplicates.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta

import httpx
from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from video_enhancer.config import Settings
from video_enhancer.models import DeliveryStatus, WebhookDelivery, WebhookEndpoint, utcnow
from video_enhancer.observability.metrics import WEBHOOK_BACKLOG, WEBHOOK_DELIVERIES, WEBHOOK_DELIVERY_SECONDS
from video_enhancer.webhooks import service, signing, ssrf

logger = logging.getLogger(__name__)

MAX_RESPONSE_BYTES = 64 * 1024
CLAIM_BATCH = 32
SEND_THREADS = 8


@dataclass(frozen=True)
class Claimed:
    id: uuid.UUID
    url: str
    secret: str
    message_id: str
    payload: str
    attempts: int


@dataclass(frozen=True)
class Outcome:
    ok: bool
    status_code: int | None
    error: str | None


class WebhookDispatcher:
    def __init__(self, session_factory: sessionmaker[Session], settings: Settings) -> None:
        self._session_factory = session_factory
        self._settings = settings
        # No Nagle: headers and body leave at once instead of waiting on the receiver's delayed ACK.
        transport = httpx.HTTPTransport(socket_options=[(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)])
        self._client = httpx.Client(
            transport=transport,
            follow_redirects=False,
            timeout=settings.webhook_timeout_seconds,
            limits=httpx.Limits(max_connections=SEND_THREADS),
        )
        self._pool = ThreadPoolExecutor(SEND_THREADS, thread_name_prefix="webhook-send")

    def run(self, stop: threading.Event) -> None:
        while not stop.is_set():
            try:
                sent = self.run_once()
            except Exception:
                logger.exception("webhook dispatcher iteration failed")
                sent = 0
            if not sent:
                stop.wait(self._settings.webhook_poll_seconds)
        self._client.close()
        self._pool.shutdown()

    def run_once(self) -> int:
        """Claim the due deliveries, send them in parallel, record every outcome in one transaction;
        returns how many were attempted. A slow receiver holds up its own delivery only."""
        claimed = self._claim()
        if claimed:
            outcomes = list(self._pool.map(self._send, claimed))
            self._record(list(zip(claimed, outcomes, strict=True)))
        return len(claimed)

    def _claim(self) -> list[Claimed]:
        now = utcnow()
        lock = now + timedelta(seconds=self._settings.webhook_timeout_seconds * 3 + 30)
        with self._session_factory.begin() as session:
            WEBHOOK_BACKLOG.set(
                session.scalar(select(func.count()).where(WebhookDelivery.status == DeliveryStatus.PENDING))
                or 0
            )
            due = (
                select(WebhookDelivery.id)
                .join(WebhookEndpoint, WebhookEndpoint.id == WebhookDelivery.endpoint_id)
                .where(
                    WebhookDelivery.status == DeliveryStatus.PENDING,
                    WebhookDelivery.next_attempt_at <= now,
                    or_(WebhookDelivery.locked_until.is_(None), WebhookDelivery.locked_until < now),
                    WebhookEndpoint.enabled,
                )
                .order_by(WebhookDelivery.next_attempt_at)
                .limit(CLAIM_BATCH)
                .with_for_update(skip_locked=True, of=WebhookDelivery)
            )
            ids = list(session.scalars(due))
            if not ids:
                return []
            # Conditional on the claim still being free: on SQLite (no row locks) a second dispatcher
            # that selected the same rows updates none of them.
            rows = session.execute(
                update(WebhookDelivery)
                .where(
                    WebhookDelivery.id.in_(ids),
                    WebhookDelivery.status == DeliveryStatus.PENDING,
                    or_(WebhookDelivery.locked_until.is_(None), WebhookDelivery.locked_until < now),
                )
                .values(locked_until=lock, attempts=WebhookDelivery.attempts + 1, last_attempt_at=now)
                .returning(WebhookDelivery.id)
                .execution_options(synchronize_session=False)
            ).scalars()
            claimed_ids = set(rows)
            result = session.execute(
                select(WebhookDelivery, WebhookEndpoint)
                .join(WebhookEndpoint, WebhookEndpoint.id == WebhookDelivery.endpoint_id)
                .where(WebhookDelivery.id.in_(claimed_ids))
            ).all()
            return [Claimed(d.id, e.url, e.secret, d.message_id, d.payload, d.attempts) for d, e in result]

    def _send(self, delivery: Claimed) -> Outcome:
        try:
            target = service.check_url(delivery.url, self._settings)
        except ssrf.UnsafeWebhookUrl as exc:
            return Outcome(False, None, exc.message)
        headers = signing.headers(delivery.secret, delivery.message_id, int(time.time()), delivery.payload)
        headers["host"] = target.host_header
        extensions = {"sni_hostname": target.host} if target.scheme == "https" else {}
        try:
            with self._client.stream(
                "POST", target.connect_url(), content=delivery.payload, headers=headers, extensions=extensions
            ) as response:
                _drain(response)
                ok = 200 <= response.status_code < 300
                return Outcome(ok, response.status_code, None if ok else f"HTTP {response.status_code}")
        except httpx.HTTPError as exc:
            return Outcome(False, None, f"{type(exc).__name__}: {exc}"[:500])

    def _record(self, results: list[tuple[Claimed, Outcome]]) -> None:
        now = utcnow()
        with self._session_factory.begin() as session:
            for claimed, outcome in results:
                self._record_one(session, claimed, outcome, now)

    def _record_one(self, session: Session, claimed: Claimed, outcome: Outcome, now: datetime) -> None:
        delivery = session.get(WebhookDelivery, claimed.id, with_for_update=True)
        if delivery is None:
            return
        endpoint = session.get(WebhookEndpoint, delivery.endpoint_id)
        delivery.locked_until = None
        delivery.last_status_code = outcome.status_code
        delivery.last_error = outcome.error
        if not outcome.ok:
            self._record_failure(delivery, endpoint, now, outcome)
            return
        delivery.status = DeliveryStatus.SUCCEEDED
        WEBHOOK_DELIVERIES.labels(outcome="succeeded").inc()
        WEBHOOK_DELIVERY_SECONDS.observe((now - delivery.created_at).total_seconds())
        if endpoint is not None:
            endpoint.failing_since = None

    def _record_failure(
        self, delivery: WebhookDelivery, endpoint: WebhookEndpoint | None, now: datetime, outcome: Outcome
    ) -> None:
        delay = service.next_attempt_delay(delivery.attempts, self._settings.webhook_retry_scale)
        if delay is None:
            delivery.status = DeliveryStatus.FAILED
            WEBHOOK_DELIVERIES.labels(outcome="failed").inc()
        else:
            delivery.next_attempt_at = now + timedelta(seconds=delay)
            WEBHOOK_DELIVERIES.labels(outcome="retry").inc()
        if endpoint is not None and service.disable_if_failing_too_long(
            endpoint, now, self._settings.webhook_disable_after_seconds, outcome.error or "failed"
        ):
            logger.warning("webhook endpoint disabled", extra={"webhook_id": str(endpoint.id)})


def _drain(response: httpx.Response) -> None:
    """Read at most 64 KB of the body and drop it."""
    read = 0
    for chunk in response.iter_bytes():
        read += len(chunk)
        if read >= MAX_RESPONSE_BYTES:
            break
