"""`serve`, `run`, `worker` and `migrate`: the long-running processes and the schema."""

from __future__ import annotations

import argparse
import gc
import os
import signal
import subprocess
import sys
from typing import Any

WORKER_STOP_TIMEOUT_SECONDS = 60


def register(subparsers: Any) -> None:
    for name, handler, help_text in (
        ("serve", serve_command, "serve the HTTP API"),
        ("run", run_command, "API + one worker"),
    ):
        parser = subparsers.add_parser(name, help=help_text)
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.set_defaults(handler=handler)

    parser = subparsers.add_parser("worker", help="process queued jobs")
    parser.add_argument(
        "--concurrency", type=int, default=None, help="jobs at once (default VE_WORKER_CONCURRENCY)"
    )
    parser.set_defaults(handler=worker_command)

    subparsers.add_parser("migrate", help="apply database migrations").set_defaults(handler=migrate_command)


def serve_command(args: argparse.Namespace) -> int:
    import uvicorn

    from video_enhancer.app import create_app

    # Forwarded headers are read by the app itself, from `VE_TRUSTED_PROXIES` only (api.client_ip).
    # The app writes its own access log (observability.middleware); uvloop and httptools are what
    # uvicorn picks when installed, named here so a missing one fails at start instead of slowing
    # every request.
    app = create_app()
    # What start-up allocated (modules, the app, its routes and schemas) lives as long as the
    # process: moved out of the collector's sight, a full collection no longer walks it, which
    # took tens of milliseconds in the middle of requests (the p99 of a busy API).
    gc.collect()
    gc.freeze()
    uvicorn.run(
        app,
        host=args.host,
        port=args.port,
        log_config=None,
        proxy_headers=False,
        access_log=False,
        loop="uvloop",
        http="httptools",
    )
    return 0


def worker_command(args: argparse.Namespace) -> int:
    from video_enhancer.worker.process import run_worker_process

    return run_worker_process(concurrency=args.concurrency)


def worker_environment(host: str) -> dict[str, str]:
    """The embedded worker's environment: its metrics listen where the API does (`--host`),
    unless `VE_WORKER_METRICS_HOST` says otherwise."""
    environment = dict(os.environ)
    environment.setdefault("VE_WORKER_METRICS_HOST", host)
    return environment


def run_command(args: argparse.Namespace) -> int:
    """API and one worker together: the embedded default, no other set-up."""
    # uvicorn re-raises the signal that stopped it once it has shut down; with the default
    # SIGTERM action that would end this process before the worker is stopped below.
    signal.signal(signal.SIGTERM, _exit_on_signal)
    worker = subprocess.Popen(
        [sys.executable, "-m", "video_enhancer.cli", "worker"], env=worker_environment(args.host)
    )
    try:
        return serve_command(args)
    finally:
        worker.send_signal(signal.SIGTERM)
        try:
            worker.wait(timeout=WORKER_STOP_TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired:
            worker.kill()


def migrate_command(_args: argparse.Namespace) -> int:
    from alembic import command
    from alembic.config import Config

    from video_enhancer.db import find_migrations_dir

    config = Config()
    config.set_main_option("script_location", str(find_migrations_dir()))
    command.upgrade(config, "head")
    return 0


def _exit_on_signal(signum: int, _frame: object) -> None:
    raise SystemExit(128 + signum)
