"""`video-enhancer`: serve the API, run workers, enhance a local file, administer the service.

One module per group of commands, each adding its sub-commands with `register(subparsers)`:

* `server`   serve, run (API + one worker), worker, migrate
* `enhance`  enhance a local file (no server needed)
* `users`    users set-plan
* `stats`    jobs per status, processing time, error rate, queue depth
* `cloud`    cloud-setup: create the GCS buckets and Pub/Sub topics and subscriptions
* `models`   models list, models download: published enhancer weights with checksums
* `dispatchers`  webhooks, outbox-relay: the workers' side loops as processes of their own

Every command that needs the database opens it through `cli.database.database_session`; every
command's handler is `args.handler(args) -> exit status`.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from video_enhancer.cli import cloud, dispatchers, enhance, models, server, stats, users

__all__ = ["build_parser", "main"]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="video-enhancer", description=__doc__.splitlines()[0])
    subparsers = parser.add_subparsers(dest="command", required=True)
    for module in (server, users, stats, enhance, cloud, dispatchers, models):
        module.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.handler(args) or 0)
