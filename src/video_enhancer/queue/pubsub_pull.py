"""Pulling from Pub/Sub one message at a time, and what the job consumer needs around it.

* `pull_one` / `ack` / `redeliver_after` (a delayed nack) / `drain_loop`;
* `TierScheduler`: which priority subscription a free slot pulls from first (ADR 0005);
* `AckDeadlineKeeper`: keeps extending the ack deadline of messages being worked on.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime

from google.api_core import exceptions as api_exceptions
from google.cloud import pubsub_v1

from video_enhancer.models import utcnow
from video_enhancer.queue.pubsub import JobMessage

log = logging.getLogger(__name__)

# Pub/Sub accepts ack deadlines of 0..600 s.
MAX_ACK_DEADLINE_SECONDS = 600
DEFAULT_MAX_LEASE_SECONDS = 6 * 3600  # longer than any job a plan allows, with a wide margin
DEFAULT_TIER_WEIGHTS: dict[int, int] = {2: 4, 1: 2, 0: 1}
_PULL_TIMEOUT_SECONDS = 30.0


@dataclass(frozen=True, slots=True)
class Pulled:
    subscription: str
    ack_id: str
    data: bytes
    attributes: Mapping[str, str]
    delivery_attempt: int


# -- priority ---------------------------------------------------------------------------------


class TierScheduler:
    """Weighted priority with no starvation (ADR 0005).

    Every slot each tier earns its weight in credit; tiers are tried in order of credit (ties go
    to the higher plan); the tier that serves pays the total weight; a tier found empty drops to
    zero credit. Under a full backlog PRO, CREATOR and FREE get 4:2:1 of the slots, so FREE waits
    at most about seven slots; with one job of each waiting the order is PRO, CREATOR, FREE.
    """

    def __init__(self, weights: Mapping[int, int] | None = None) -> None:
        self._weights = dict(weights or DEFAULT_TIER_WEIGHTS)
        self._credit = dict.fromkeys(self._weights, 0)
        self._total = sum(self._weights.values())
        self._lock = threading.Lock()

    def order(self) -> list[int]:
        with self._lock:
            for tier, weight in self._weights.items():
                self._credit[tier] += weight
            return sorted(self._weights, key=lambda tier: (-self._credit[tier], -tier))

    def served(self, tier: int) -> None:
        with self._lock:
            self._credit[tier] -= self._total

    def empty(self, tier: int) -> None:
        with self._lock:
            self._credit[tier] = 0

    def idle(self) -> None:
        """Nothing anywhere: forget the round's credit so an idle worker builds up no bias."""
        with self._lock:
            self._credit = dict.fromkeys(self._weights, 0)


# -- ack deadlines ----------------------------------------------------------------------------


class AckDeadlineKeeper:
    """Extends the ack deadline of every message being worked on until it is released."""

    def __init__(
        self,
        subscriber: pubsub_v1.SubscriberClient,
        *,
        deadline_seconds: int,
        max_lease_seconds: float = DEFAULT_MAX_LEASE_SECONDS,
    ) -> None:
        self._subscriber = subscriber
        self._deadline = min(deadline_seconds, MAX_ACK_DEADLINE_SECONDS)
        self._max_lease = max_lease_seconds
        self._held: dict[str, tuple[str, float]] = {}  # ack_id -> (subscription, since)
        self._lock = threading.Lock()

    def hold(self, message: Pulled) -> None:
        with self._lock:
            self._held[message.ack_id] = (message.subscription, time.monotonic())

    def release(self, message: Pulled) -> None:
        with self._lock:
            self._held.pop(message.ack_id, None)

    def extend_all(self) -> None:
        for subscription, ack_ids in self._due().items():
            try:
                self._subscriber.modify_ack_deadline(
                    request={
                        "subscription": subscription,
                        "ack_ids": ack_ids,
                        "ack_deadline_seconds": self._deadline,
                    }
                )
            except api_exceptions.GoogleAPIError:
                log.warning("ack deadline extension failed", extra={"subscription": subscription})

    def run(self, stop: threading.Event) -> None:
        # Extend at a third of the deadline: two extensions may fail before a message is lost.
        interval = max(1.0, self._deadline / 3)
        while not stop.wait(interval):
            self.extend_all()

    def _due(self) -> dict[str, list[str]]:
        now = time.monotonic()
        by_subscription: dict[str, list[str]] = {}
        with self._lock:
            for ack_id, (subscription, since) in list(self._held.items()):
                if now - since > self._max_lease:
                    del self._held[ack_id]  # let Pub/Sub redeliver; the job row has its own lease
                    continue
                by_subscription.setdefault(subscription, []).append(ack_id)
        return by_subscription


# -- shared pulling and settling --------------------------------------------------------------


def pull_one(subscriber: pubsub_v1.SubscriberClient, subscription: str) -> Pulled | None:
    try:
        response = subscriber.pull(
            request={"subscription": subscription, "max_messages": 1, "return_immediately": True},
            timeout=_PULL_TIMEOUT_SECONDS,
        )
    except api_exceptions.DeadlineExceeded:
        return None
    for received in response.received_messages:
        return Pulled(
            subscription=subscription,
            ack_id=received.ack_id,
            data=bytes(received.message.data),
            attributes=dict(received.message.attributes),
            delivery_attempt=int(received.delivery_attempt or 0),
        )
    return None


def ack(subscriber: pubsub_v1.SubscriberClient, message: Pulled) -> None:
    subscriber.acknowledge(request={"subscription": message.subscription, "ack_ids": [message.ack_id]})


def redeliver_after(subscriber: pubsub_v1.SubscriberClient, message: Pulled, seconds: float) -> None:
    """A nack with a delay: the message comes back after `seconds` (0 = at once)."""
    deadline = int(min(max(seconds, 0), MAX_ACK_DEADLINE_SECONDS))
    subscriber.modify_ack_deadline(
        request={
            "subscription": message.subscription,
            "ack_ids": [message.ack_id],
            "ack_deadline_seconds": deadline,
        }
    )


def drain_loop(
    subscriber: pubsub_v1.SubscriberClient,
    subscription: str,
    handle: Callable[[Pulled], None],
    stop: threading.Event,
    idle_seconds: float = 1.0,
) -> None:
    """Pull and handle messages one at a time until stopped (the small side consumers)."""
    while not stop.is_set():
        try:
            message = pull_one(subscriber, subscription)
            if message is None:
                stop.wait(idle_seconds)
                continue
            handle(message)
        except Exception:
            log.exception("consumer pass failed", extra={"subscription": subscription})
            stop.wait(idle_seconds)


def job_id_of(message: Pulled) -> uuid.UUID | None:
    try:
        return JobMessage.from_bytes(message.data).job_id
    except (ValueError, KeyError, TypeError):
        return None


def seconds_until(moment: datetime | None) -> float:
    return 0.0 if moment is None else max(0.0, (moment - utcnow()).total_seconds())
