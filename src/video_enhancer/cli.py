"""`video-enhancer`: serve the API, run workers, enhance a local file, administer users."""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
from collections.abc import Sequence


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    from video_enhancer.app import create_app

    # Forwarded headers are read by the app itself, from `VE_TRUSTED_PROXIES` only (api.client_ip).
    uvicorn.run(create_app(), host=args.host, port=args.port, log_config=None, proxy_headers=False)
    return 0


def _worker(args: argparse.Namespace) -> int:
    from video_enhancer.worker.process import run_worker_process

    return run_worker_process(concurrency=args.concurrency)


def _exit_on_signal(signum: int, _frame: object) -> None:
    raise SystemExit(128 + signum)


def worker_environment(host: str) -> dict[str, str]:
    """The embedded worker's environment: its metrics listen where the API does (`--host`),
    unless `VE_WORKER_METRICS_HOST` says otherwise."""
    environment = dict(os.environ)
    environment.setdefault("VE_WORKER_METRICS_HOST", host)
    return environment


def _run(args: argparse.Namespace) -> int:
    """API and one worker together: the embedded default, no other set-up."""
    # uvicorn re-raises the signal that stopped it once it has shut down; with the default
    # SIGTERM action that would end this process before the worker is stopped below.
    signal.signal(signal.SIGTERM, _exit_on_signal)
    worker = subprocess.Popen(
        [sys.executable, "-m", "video_enhancer.cli", "worker"], env=worker_environment(args.host)
    )
    try:
        return _serve(args)
    finally:
        worker.send_signal(signal.SIGTERM)
        try:
            worker.wait(timeout=60)
        except subprocess.TimeoutExpired:
            worker.kill()


def _migrate(_args: argparse.Namespace) -> int:
    from alembic import command
    from alembic.config import Config

    from video_enhancer.db import find_migrations_dir

    config = Config()
    config.set_main_option("script_location", str(find_migrations_dir()))
    command.upgrade(config, "head")
    return 0


def _set_plan(args: argparse.Namespace) -> int:
    from video_enhancer.users.admin import set_plan_command

    return set_plan_command(args.email, args.plan)


def _grant_admin(args: argparse.Namespace) -> int:
    from video_enhancer.users.admin import set_admin_command

    return set_admin_command(args.email, admin=True)


def _revoke_admin(args: argparse.Namespace) -> int:
    from video_enhancer.users.admin import set_admin_command

    return set_admin_command(args.email, admin=False)


def _stats(args: argparse.Namespace) -> int:
    from video_enhancer.admin.stats import stats_command

    return stats_command(json_output=args.json)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="video-enhancer", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    for name, func, help_text in (("serve", _serve, "serve the HTTP API"), ("run", _run, "API + one worker")):
        p = sub.add_parser(name, help=help_text)
        p.add_argument("--host", default="127.0.0.1")
        p.add_argument("--port", type=int, default=8000)
        p.set_defaults(func=func)

    p = sub.add_parser("worker", help="process queued jobs")
    p.add_argument(
        "--concurrency", type=int, default=None, help="jobs at once (default VE_WORKER_CONCURRENCY)"
    )
    p.set_defaults(func=_worker)

    sub.add_parser("migrate", help="apply database migrations").set_defaults(func=_migrate)

    users = sub.add_parser("users", help="user administration").add_subparsers(
        dest="users_command", required=True
    )
    p = users.add_parser("set-plan", help="change a user's plan")
    p.add_argument("email")
    p.add_argument("plan", type=str.upper, choices=["FREE", "CREATOR", "PRO"])
    p.set_defaults(func=_set_plan)
    for name, func, help_text in (
        ("grant-admin", _grant_admin, "give an account admin rights"),
        ("revoke-admin", _revoke_admin, "take admin rights away"),
    ):
        p = users.add_parser(name, help=help_text)
        p.add_argument("email")
        p.set_defaults(func=func)

    p = sub.add_parser("stats", help="jobs per status, processing time, error rate, queue depth")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=_stats)

    try:
        from video_enhancer.media.cli_enhance import add_enhance_parser
    except ImportError:  # pragma: no cover - only while the media package is incomplete
        pass
    else:
        add_enhance_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    command = getattr(args, "func", None) or args.handler
    return int(command(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
