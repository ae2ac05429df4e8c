"""A worker process on `VE_QUEUE=pubsub` for the end-to-end test (configured by VE_* variables).

The Pub/Sub part of what `video-enhancer worker` does: load the enhancer once, build a `JobRunner`
per slot, stop on SIGTERM. `VE_TEST_ACK_DEADLINE` shortens the ack deadline so a killed worker's
message comes back within seconds.
"""

from __future__ import annotations

import os
import signal
import sys
import threading

from video_enhancer.config import get_settings
from video_enhancer.db import make_engine, make_session_factory
from video_enhancer.logging import configure_logging
from video_enhancer.queue.pubsub_worker import run_pubsub_worker
from video_enhancer.storage.factory import make_storage
from video_enhancer.videos.service import complete_upload_by_key
from video_enhancer.worker.process import load_enhancer
from video_enhancer.worker.runner import JobRunner


def main() -> int:
    settings = get_settings()
    configure_logging(settings.log_level)
    session_factory = make_session_factory(make_engine(settings.database_url, pool_size=4))
    storage = make_storage(settings)
    enhancer = load_enhancer(settings)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    run_pubsub_worker(
        settings,
        {enhancer.name: lambda: JobRunner(settings, session_factory, storage, enhancer, shutdown=stop)},
        stop=stop,
        session_factory=session_factory,
        complete_upload=complete_upload_by_key(session_factory, storage, settings),
        ack_deadline_seconds=int(os.environ.get("VE_TEST_ACK_DEADLINE", "10")),
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
