"""`video-enhancer users set-plan EMAIL PLAN`: the admin action that changes a plan."""

from __future__ import annotations

import sys

from video_enhancer.config import get_settings
from video_enhancer.db import make_engine, make_session_factory, session_scope
from video_enhancer.errors import NotFound
from video_enhancer.models import Plan
from video_enhancer.users.service import change_plan

EXIT_UNKNOWN_USER = 1
EXIT_UNKNOWN_PLAN = 2


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
