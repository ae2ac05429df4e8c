"""Admin rights and the admin CLI actions: `video-enhancer users set-plan EMAIL PLAN` and
`video-enhancer users grant-admin EMAIL` / `revoke-admin EMAIL`.

Admin rights come from the `is_admin` column, which only the CLI sets (someone with access to
the database and the configuration), or from `VE_ADMIN_EMAILS` for an address its owner has
verified. A configured address alone grants nothing: anyone could register it first.
"""

from __future__ import annotations

import sys

from video_enhancer.config import Settings, get_settings
from video_enhancer.db import make_engine, make_session_factory, session_scope
from video_enhancer.errors import NotFound
from video_enhancer.models import Plan, User
from video_enhancer.users.repository import get_user_by_email, normalize_email
from video_enhancer.users.service import change_plan

EXIT_UNKNOWN_USER = 1
EXIT_UNKNOWN_PLAN = 2


def has_admin_rights(user: User, settings: Settings) -> bool:
    if user.is_admin:
        return True
    configured = {normalize_email(email) for email in settings.admin_emails}
    return is_email_verified(user) and normalize_email(user.email) in configured


def is_email_verified(user: User) -> bool:
    # Email verification records `email_verified_at` on the user; an account without it (or a
    # schema without the column) has verified nothing.
    return getattr(user, "email_verified_at", None) is not None


def set_admin_command(email: str, *, admin: bool) -> int:
    """Grant (or revoke) admin rights to the account with `email`; exit code 1 when there is none."""
    settings = get_settings()
    engine = make_engine(settings.database_url, pool_size=1)
    try:
        with session_scope(make_session_factory(engine)) as session:
            user = get_user_by_email(session, email)
            if user is None:
                print(f"No user with email {email!r}; nothing changed.", file=sys.stderr)
                return EXIT_UNKNOWN_USER
            user.is_admin = admin
            stored_email = user.email
    finally:
        engine.dispose()
    print(f"{stored_email}: admin rights {'granted' if admin else 'revoked'}.")
    return 0


def set_plan_command(email: str, plan: str) -> int:
    try:
        new_plan = Plan(plan.upper())
    except ValueError:
        print(f"Unknown plan {plan!r}; choose one of {', '.join(Plan)}.", file=sys.stderr)
        return EXIT_UNKNOWN_PLAN
    settings = get_settings()
    engine = make_engine(settings.database_url, pool_size=1)
    try:
        with session_scope(make_session_factory(engine)) as session:
            change = change_plan(session, email, new_plan)
    except NotFound:
        print(f"No user with email {email!r}; nothing changed.", file=sys.stderr)
        return EXIT_UNKNOWN_USER
    finally:
        engine.dispose()
    print(
        f"{change.email}: plan {change.old_plan} -> {change.new_plan}. New uploads use the new limits; "
        f"usage in the current cycle is kept ({change.minutes_used_this_cycle} minutes used)."
    )
    return 0
