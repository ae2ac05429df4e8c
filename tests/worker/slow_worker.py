"""A real worker process whose enhancer is slowed down, so tests can stop it mid-job.

Run as a script with the VE_* environment of the test; the delay per frame comes from
SLOW_WORKER_DELAY_S. It is the production `WorkerProcess` with the lanczos enhancer wrapped.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

# This folder (for `support`) and tests/ (for `factories`, which `support` imports).
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from support import HookedLanczos

from video_enhancer.config import get_settings
from video_enhancer.logging import configure_logging
from video_enhancer.worker.process import WorkerProcess, install_signal_handlers


def main() -> int:
    settings = get_settings()
    configure_logging(settings.log_level)
    enhancer = HookedLanczos(delay_s=float(os.environ["SLOW_WORKER_DELAY_S"]))
    worker = WorkerProcess(settings, enhancer=enhancer, worker_id=settings.worker_id or "slow-worker")
    install_signal_handlers(worker)
    return worker.run()


if __name__ == "__main__":
    sys.exit(main())
