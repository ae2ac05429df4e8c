"""`cloud-setup`: create what the Google Cloud backends need, idempotently.

Missing buckets (`VE_RAW_BUCKET`, `VE_ENHANCED_BUCKET`) when `VE_STORAGE=gcs`, and the Pub/Sub
topics and subscriptions (`queue.pubsub_admin`) when `VE_QUEUE=pubsub`. Meant for the emulators
and first-time set-up; existing resources are left as they are.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from video_enhancer.config import Settings, get_settings


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "cloud-setup", help="create missing GCS buckets and the Pub/Sub topics and subscriptions"
    )
    parser.set_defaults(handler=cloud_setup_command)


def cloud_setup_command(_args: argparse.Namespace) -> int:
    settings = get_settings()
    if settings.storage != "gcs" and settings.queue != "pubsub":
        print("nothing to set up: VE_STORAGE is not gcs and VE_QUEUE is not pubsub", file=sys.stderr)
        return 1
    if settings.storage == "gcs":
        _ensure_buckets(settings)
    if settings.queue == "pubsub":
        _ensure_pubsub(settings)
    return 0


def _ensure_buckets(settings: Settings) -> None:
    from video_enhancer.storage.gcs import GcsStorage

    GcsStorage.from_settings(settings).ensure_buckets()
    print(f"buckets: {settings.raw_bucket}, {settings.enhanced_bucket}")


def _ensure_pubsub(settings: Settings) -> None:
    from video_enhancer.queue.pubsub_admin import ensure_pubsub_resources

    made = ensure_pubsub_resources(settings)
    print(f"pubsub: {len(made.topics)} topics, {len(made.subscriptions)} subscriptions")
