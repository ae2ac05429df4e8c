"""`users set-plan EMAIL PLAN`: the admin action that changes a plan."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from video_enhancer.cli.database import database_session
from video_enhancer.errors import NotFound
from video_enhancer.models import Plan

EXIT_UNKNOWN_USER = 1
EXIT_UNKNOWN_PLAN = 2


def register(subparsers: Any) -> None:
    users = subparsers.add_parser("users", help="user administration").add_subparsers(
        dest="users_command", required=True
    )
    parser = users.add_parser("set-plan", help="change a user's plan")
    parser.add_argument("email")
    parser.add_argument("plan", type=str.upper, choices=[plan.value for plan in Plan])
    parser.set_defaults(handler=_handler)


def set_plan_command(email: str, plan: str) -> int:
    from video_enhancer.users.service import change_plan

    try:
        new_plan = Plan(plan.upper())
    except ValueError:
        print(f"Unknown plan {plan!r}; choose one of {', '.join(Plan)}.", file=sys.stderr)
        return EXIT_UNKNOWN_PLAN
    try:
        with database_session() as session:
            change = change_plan(session, email, new_plan)
    except NotFound:
        print(f"No user with email {email!r}; nothing changed.", file=sys.stderr)
        return EXIT_UNKNOWN_USER
    print(
        f"{change.email}: plan {change.old_plan} -> {change.new_plan}. New uploads use the new limits; "
        f"usage in the current cycle is kept ({change.minutes_used_this_cycle} minutes used)."
    )
    return 0


def _handler(args: argparse.Namespace) -> int:
    return set_plan_command(args.email, args.plan)
