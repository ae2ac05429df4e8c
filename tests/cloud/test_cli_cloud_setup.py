"""`video-enhancer cloud-setup` against fake-gcs-server and the Pub/Sub emulator."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from cloud_helpers import ServiceAccountKey

from video_enhancer.cli import main
from video_enhancer.config import get_settings
from video_enhancer.queue.pubsub import make_subscriber
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
