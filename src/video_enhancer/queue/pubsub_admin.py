"""Create the Pub/Sub topics and subscriptions the service uses, idempotently.

For the emulator and for first-time set-up (`deploy/gcp.md` gives the same resources as gcloud
commands). Existing resources are left as they are.

* topic `VE_PUBSUB_TOPIC` with one subscription per (enhancer of the catalogue, plan
  priority), `<VE_PUBSUB_SUBSCRIPTION>-<enhancer>-<pro|creator|free>`, each filtered on the
  `priority` and `enhancer` attributes, dead-lettering to `VE_PUBSUB_DEAD_LETTER_TOPIC` after
  `VE_PUBSUB_MAX_DELIVERIES` deliveries and never expiring (a subscription of an enhancer no
  worker runs yet is not pulled for weeks; Pub/Sub would otherwise delete it after 31 days);
* the dead-letter topic with its own subscription (read by the dead-letter consumer);
* the uploads topic (GCS object-finalize notifications) with
  `VE_PUBSUB_UPLOAD_NOTIFICATIONS_SUBSCRIPTION`.

A filter cannot be changed once a subscription exists, so the per-priority subscriptions of
earlier releases (filtered on the priority alone) are replaced, not updated:
`drop_legacy_subscriptions` deletes them (docs/cloud.md, "Upgrading").
"""

from __future__ import annotations

from dataclasses import dataclass, field

from google.api_core import exceptions as api_exceptions
from google.cloud import pubsub_v1
from google.protobuf import duration_pb2
from google.pubsub_v1.types import DeadLetterPolicy, ExpirationPolicy, RetryPolicy, Subscription

from video_enhancer.config import Settings
from video_enhancer.queue.pubsub import (
    PRIORITIES_HIGH_FIRST,
    dead_letter_subscription,
    job_filter,
    job_subscription,
    legacy_tier_subscription,
    make_publisher,
    make_subscriber,
    routed_enhancers,
    uploads_topic,
)

DEFAULT_ACK_DEADLINE_SECONDS = 60
# Pub/Sub's own redelivery back-off for nacked messages (bounded: a lost worker is noticed fast).
RETRY_MIN_SECONDS = 10
RETRY_MAX_SECONDS = 600


@dataclass
class PubSubResources:
    topics: list[str] = field(default_factory=list)
    subscriptions: list[str] = field(default_factory=list)


def ensure_pubsub_resources(
    settings: Settings,
    *,
    ack_deadline_seconds: int = DEFAULT_ACK_DEADLINE_SECONDS,
    publisher: pubsub_v1.PublisherClient | None = None,
    subscriber: pubsub_v1.SubscriberClient | None = None,
    retry_min_seconds: int | None = RETRY_MIN_SECONDS,
) -> PubSubResources:
    """Create every topic and subscription that does not exist yet; returns their full names.

    `retry_min_seconds=None` leaves Pub/Sub's default (immediate) redelivery of nacked messages.
    """
    publisher = publisher or make_publisher(settings)
    subscriber = subscriber or make_subscriber(settings)
    project = settings.pubsub_project
    jobs = publisher.topic_path(project, settings.pubsub_topic)
    dead = publisher.topic_path(project, settings.pubsub_dead_letter_topic)
    uploads = publisher.topic_path(project, uploads_topic(settings))
    made = PubSubResources(topics=[jobs, dead, uploads])
    for topic in made.topics:
        _ensure_topic(publisher, topic)
    for enhancer in routed_enhancers():
        for priority in PRIORITIES_HIGH_FIRST:
            name = subscriber.subscription_path(project, job_subscription(settings, enhancer, priority))
            _ensure_subscription(
                subscriber,
                Subscription(
                    name=name,
                    topic=jobs,
                    filter=job_filter(enhancer, priority),
                    ack_deadline_seconds=ack_deadline_seconds,
                    dead_letter_policy=DeadLetterPolicy(
                        dead_letter_topic=dead, max_delivery_attempts=settings.pubsub_max_deliveries
                    ),
                    retry_policy=_retry_policy(retry_min_seconds),
                    expiration_policy=ExpirationPolicy(),  # no ttl: never expires
                ),
            )
            made.subscriptions.append(name)
    for topic, short_name in (
        (dead, dead_letter_subscription(settings)),
        (uploads, settings.pubsub_upload_notifications_subscription),
    ):
        name = subscriber.subscription_path(project, short_name)
        _ensure_subscription(
            subscriber, Subscription(name=name, topic=topic, ack_deadline_seconds=ack_deadline_seconds)
        )
        made.subscriptions.append(name)
    return made


def _retry_policy(min_seconds: int | None) -> RetryPolicy | None:
    if min_seconds is None:
        return None
    return RetryPolicy(
        minimum_backoff=duration_pb2.Duration(seconds=min_seconds),
        maximum_backoff=duration_pb2.Duration(seconds=RETRY_MAX_SECONDS),
    )


def _ensure_topic(publisher: pubsub_v1.PublisherClient, topic: str) -> None:
    try:
        publisher.create_topic(name=topic)
    except api_exceptions.AlreadyExists:
        return


def _ensure_subscription(subscriber: pubsub_v1.SubscriberClient, subscription: Subscription) -> None:
    try:
        subscriber.create_subscription(request=subscription)
    except api_exceptions.AlreadyExists:
        return


def drop_legacy_subscriptions(
    settings: Settings, *, subscriber: pubsub_v1.SubscriberClient | None = None
) -> list[str]:
    """Delete the per-priority job subscriptions of earlier releases; returns those deleted.

    Their messages go with them: the caller re-announces every QUEUED job afterwards
    (`queue.service.reannounce_queued_jobs`), so a job whose only message was there is not lost.
    """
    subscriber = subscriber or make_subscriber(settings)
    deleted = []
    for priority in PRIORITIES_HIGH_FIRST:
        short_name = legacy_tier_subscription(settings, priority)
        name = subscriber.subscription_path(settings.pubsub_project, short_name)
        try:
            subscriber.delete_subscription(subscription=name)
        except api_exceptions.NotFound:
            continue
        deleted.append(name)
    return deleted
