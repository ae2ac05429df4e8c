"""`webhooks` and `outbox-relay`: the small loops that workers also run, as processes of their own.

Run them alone to scale out (several webhook dispatchers never send one delivery twice at the
same time), or to keep publishing queued jobs while workers are scaled to zero.
"""

from __future__ import annotations

import argparse
import signal
import threading
from collections.abc import Callable
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from video_enhancer.config import Settings, get_settings


def register(subparsers: Any) -> None:
    subparsers.add_parser("webhooks", help="deliver webhooks (the dispatcher alone)").set_defaults(
        handler=webhooks_command
    )
    subparsers.add_parser(
        "outbox-relay", help="publish queued jobs to Pub/Sub (the relay alone)"
    ).set_defaults(handler=outbox_relay_command)


def webhooks_command(_args: argparse.Namespace) -> int:
    from video_enhancer.webhooks.dispatcher import WebhookDispatcher

    return _run_until_signal(lambda factory, settings: WebhookDispatcher(factory, settings).run)


def outbox_relay_command(_args: argparse.Namespace) -> int:
    from video_enhancer.queue.pubsub import OutboxRelay

    return _run_until_signal(lambda factory, settings: OutboxRelay.from_settings(settings, factory).run)


Loop = Callable[[threading.Event], None]


def _run_until_signal(make_loop: Callable[[sessionmaker[Session], Settings], Loop]) -> int:
    from video_enhancer.db import make_engine, make_session_factory
    from video_enhancer.logging import configure_logging

    settings = get_settings()
    configure_logging(settings.log_level)
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    engine = make_engine(settings.database_url, pool_size=2)
    try:
        make_loop(make_session_factory(engine), settings)(stop)
    finally:
        engine.dispose()
    return 0
