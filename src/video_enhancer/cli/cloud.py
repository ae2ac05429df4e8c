"""`cloud-setup`: create what the Google Cloud backends need, idempotently.

Missing buckets (`VE_RAW_BUCKET`, `VE_ENHANCED_BUCKET`) when `VE_STORAGE=gcs`, and the Pub/Sub
topics and subscriptions (`queue.pubsub_admin`) when `VE_QUEUE=pubsub`. Meant for the emulators,
first-time set-up and upgrades; existing resources are left as they are.

`--drop-legacy-subscriptions` finishes the move to per-enhancer subscriptions (docs/cloud.md,
"Upgrading"): it deletes the per-priority subscriptions of earlier releases and writes a fresh
queue message for every QUEUED job, which the workers' relay publishes.
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
    parser.add_argument(
        "--drop-legacy-subscriptions",
        action="store_true",
        help="delete the per-priority job subscriptions of earlier releases and announce every "
        "QUEUED job again (run once no worker of an earlier release is left)",
    )
    parser.set_defaults(handler=cloud_setup_command)


def cloud_setup_command(args: argparse.Namespace) -> int:
    settings = get_settings()
    if settings.storage != "gcs" and settings.queue != "pubsub":
        print("nothing to set up: VE_STORAGE is not gcs and VE_QUEUE is not pubsub", file=sys.stderr)
        return 1
    if settings.storage == "gcs":
        _ensure_buckets(settings)
    if settings.queue == "pubsub":
        _ensure_pubsub(settings)
        if args.drop_legacy_subscriptions:
            _drop_legacy_subscriptions(settings)
    elif args.drop_legacy_subscriptions:
        print("--drop-legacy-subscriptions needs VE_QUEUE=pubsub", file=sys.stderr)
        return 1
    return 0


def _ensure_buckets(settings: Settings) -> None:
    from video_enhancer.storage.gcs import GcsStorage

    GcsStorage.from_settings(settings).ensure_buckets()
    print(f"buckets: {settings.raw_bucket}, {settings.enhanced_bucket}")


def _ensure_pubsub(settings: Settings) -> None:
    from video_enhancer.queue.pubsub_admin import ensure_pubsub_resources

    made = ensure_pubsub_resources(settings)
    print(f"pubsub: {len(made.topics)} topics, {len(made.subscriptions)} subscriptions")


def _drop_legacy_subscriptions(settings: Settings) -> None:
    from video_enhancer.cli.database import database_session
    from video_enhancer.queue.pubsub_admin import drop_legacy_subscriptions
    from video_enhancer.queue.service import reannounce_queued_jobs

    dropped = drop_legacy_subscriptions(settings)
    # After the delete: a job announced in between is announced twice, which costs nothing.
    with database_session(settings) as session:
        announced = reannounce_queued_jobs(session, settings)
    print(f"pubsub: {len(dropped)} legacy subscriptions deleted, {announced} queued jobs announced again")
