"""`users set-plan EMAIL PLAN`, `users grant-admin EMAIL` and `users revoke-admin EMAIL`.

Admin rights are granted here, by someone with access to the database and the configuration,
never by registering an address (`users.admin.has_admin_rights`).
"""

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
    for name, admin, help_text in (
        ("grant-admin", True, "give an account admin rights"),
        ("revoke-admin", False, "take admin rights away"),
    ):
        parser = users.add_parser(name, help=help_text)
        parser.add_argument("email")
        parser.set_defaults(handler=lambda args, admin=admin: set_admin_command(args.email, admin=admin))


def set_admin_command(email: str, *, admin: bool) -> int:
    """Grant (or revoke) admin rights to the account with `email`; exit code 1 when there is none."""
    from video_enhancer.users.repository import get_user_by_email

    with database_session() as session:
        user = get_user_by_email(session, email)
        if user is None:
            print(f"No user with email {email!r}; nothing changed.", file=sys.stderr)
            return EXIT_UNKNOWN_USER
        user.is_admin = admin
        stored_email = user.email
    print(f"{stored_email}: admin rights {'granted' if admin else 'revoked'}.")
    return 0


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
