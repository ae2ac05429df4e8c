"""`stats [--json]`: the service statistics of the configured database."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from video_enhancer.cli.database import database_session


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("stats", help="jobs per status, processing time, error rate, queue depth")
    parser.add_argument("--json", action="store_true")
    parser.set_defaults(handler=_handler)


def stats_command(json_output: bool) -> int:
    from video_enhancer.admin.stats import compute_stats, format_stats_table, stats_as_dict
    from video_enhancer.logging import redact

    try:
        with database_session() as session:
            stats = compute_stats(session)
    except Exception as exc:  # an operator tool: say what failed, exit non-zero, no traceback
        print(
            f"error: cannot read statistics from the database ({type(exc).__name__}: {redact(str(exc))})",
            file=sys.stderr,
        )
        return 1
    print(json.dumps(stats_as_dict(stats), indent=2) if json_output else format_stats_table(stats))
    return 0


def _handler(args: argparse.Namespace) -> int:
    return stats_command(json_output=args.json)
