"""`video-enhancer cloud-setup` against fake-gcs-server and the Pub/Sub emulator: the buckets, the
per-enhancer job subscriptions read back with their filters, and the upgrade from per-priority
subscriptions."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from cloud_helpers import ServiceAccountKey
from google.api_core import exceptions as api_exceptions
from google.pubsub_v1.types import Subscription
from pubsub_helpers import (
    RecordingRunner,
    consumer_running,
    job_status,
    make_consumer,
    queue_job,
    relay,
    wait_until,
)

from video_enhancer.cli import main
from video_enhancer.config import Settings, get_settings
from video_enhancer.db import make_engine, make_session_factory
from video_enhancer.enhancers.registry import enhancer_names
from video_enhancer.models import JobStatus, Plan
from video_enhancer.queue.pubsub import make_publisher, make_subscriber
from video_enhancer.queue.pubsub_admin import (
    DEFAULT_ACK_DEADLINE_SECONDS,
    RETRY_MAX_SECONDS,
    RETRY_MIN_SECONDS,
)
from video_enhancer.storage.gcs import GcsStorage


@pytest.fixture
def cloud_env(
    gcs_emulator: str,
    pubsub_emulator: str,
    service_account_key: ServiceAccountKey,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[None]:
    suffix = uuid.uuid4().hex[:8]
    for name, value in {
        "VE_ENV": "test",
        "VE_STORAGE": "gcs",
        "VE_GCS_ENDPOINT": gcs_emulator,
        "VE_GCS_CREDENTIALS_FILE": str(service_account_key.path),
        "VE_RAW_BUCKET": f"raw-{suffix}",
        "VE_ENHANCED_BUCKET": f"enhanced-{suffix}",
        "VE_QUEUE": "pubsub",
        "VE_PUBSUB_EMULATOR_HOST": pubsub_emulator,
        "VE_PUBSUB_PROJECT": f"ve-{suffix}",
    }.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def test_cloud_setup_creates_buckets_and_subscriptions_and_can_run_again(
    cloud_env: None, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["cloud-setup"]) == 0
    assert main(["cloud-setup"]) == 0  # idempotent
    out = capsys.readouterr().out
    assert "pubsub: 3 topics" in out and "buckets: raw-" in out

    settings = get_settings()
    GcsStorage.from_settings(settings).check_ready()  # both buckets answer
    subscriber = make_subscriber(settings)
    path = subscriber.subscription_path(
        settings.pubsub_project, settings.pubsub_upload_notifications_subscription
    )
    assert subscriber.get_subscription(subscription=path).name == path


TIERS = {"pro": "2", "creator": "1", "free": "0"}


def _subscriptions(settings: Settings) -> dict[str, Subscription]:
    subscriber = make_subscriber(settings)
    listed = subscriber.list_subscriptions(request={"project": f"projects/{settings.pubsub_project}"})
    return {subscription.name.rsplit("/", 1)[1]: subscription for subscription in listed}


def test_cloud_setup_makes_one_filtered_subscription_per_enhancer_and_priority(cloud_env: None) -> None:
    assert main(["cloud-setup"]) == 0
    settings = get_settings()
    found = _subscriptions(settings)

    expected = {
        f"video-jobs-subscription-{enhancer}-{tier}": (
            f'attributes.priority = "{priority}" AND attributes.enhancer = "{enhancer}"'
        )
        for enhancer in enhancer_names()
        for tier, priority in TIERS.items()
    }
    assert len(expected) == 15 and "video-jobs-subscription-stream-diffvsr-free" in expected
    assert set(found) == {*expected, "video-jobs-dead-letter-subscription", "video-uploads-finalized"}
    dead_letter_topic = f"projects/{settings.pubsub_project}/topics/video-jobs-dead-letter"
    for name, message_filter in expected.items():
        subscription = found[name]
        assert subscription.topic == f"projects/{settings.pubsub_project}/topics/video-jobs"
        assert subscription.filter == message_filter
        assert subscription.dead_letter_policy.dead_letter_topic == dead_letter_topic
        assert subscription.dead_letter_policy.max_delivery_attempts == settings.pubsub_max_deliveries
        assert subscription.retry_policy.minimum_backoff.total_seconds() == RETRY_MIN_SECONDS
        assert subscription.retry_policy.maximum_backoff.total_seconds() == RETRY_MAX_SECONDS
        assert subscription.ack_deadline_seconds == DEFAULT_ACK_DEADLINE_SECONDS
        # An expiration policy without a ttl: never deleted, however long no worker pulls it.
        assert "expiration_policy" in subscription and "ttl" not in subscription.expiration_policy


@pytest.fixture
def cloud_env_with_database(cloud_env: None, database_url: str, monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.setenv("VE_DATABASE_URL", database_url)
    get_settings.cache_clear()
    return get_settings()


def _make_legacy_subscriptions(settings: Settings) -> list[str]:
    """What `cloud-setup` of an earlier release made: one subscription per priority."""
    publisher, subscriber = make_publisher(settings), make_subscriber(settings)
    topic = publisher.topic_path(settings.pubsub_project, settings.pubsub_topic)
    publisher.create_topic(name=topic)
    names = []
    for tier, priority in TIERS.items():
        name = subscriber.subscription_path(settings.pubsub_project, f"video-jobs-subscription-{tier}")
        subscriber.create_subscription(
            request={"name": name, "topic": topic, "filter": f'attributes.priority = "{priority}"'}
        )
        names.append(name)
    return names


def test_dropping_the_legacy_subscriptions_loses_no_queued_job(
    cloud_env_with_database: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = cloud_env_with_database
    engine = make_engine(settings.database_url, pool_size=2)
    session_factory = make_session_factory(engine)
    try:
        legacy = _make_legacy_subscriptions(settings)
        # Announced before the upgrade: its message exists only in the legacy subscriptions.
        waiting = queue_job(session_factory, settings, Plan.PRO)
        assert relay(session_factory, settings) == 1
        assert main(["cloud-setup"]) == 0
        assert main(["cloud-setup", "--drop-legacy-subscriptions"]) == 0
        assert "3 legacy subscriptions deleted, 1 queued jobs announced again" in capsys.readouterr().out
        subscriber = make_subscriber(settings)
        for name in legacy:
            with pytest.raises(api_exceptions.NotFound):
                subscriber.get_subscription(subscription=name)
        assert relay(session_factory, settings) == 1

        runner = RecordingRunner(session_factory)
        with consumer_running(make_consumer(settings, session_factory, runner)):
            wait_until(lambda: job_status(session_factory, waiting) == JobStatus.COMPLETED, 30, "the job")
        assert runner.runs == [waiting]
        assert main(["cloud-setup", "--drop-legacy-subscriptions"]) == 0  # nothing left to drop
        assert "0 legacy subscriptions deleted, 0 queued jobs announced again" in capsys.readouterr().out
    finally:
        engine.dispose()
