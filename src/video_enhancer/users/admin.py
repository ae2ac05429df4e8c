"""Who has admin rights.

Admin rights come from the `is_admin` column, which only the CLI sets (`video-enhancer users
grant-admin EMAIL`: someone with access to the database and the configuration), or from
`VE_ADMIN_EMAILS` for an address its owner has verified. A configured address alone grants
nothing: anyone could register it first.
"""

from __future__ import annotations

from video_enhancer.config import Settings
from video_enhancer.models import User
from video_enhancer.users.repository import normalize_email


def has_admin_rights(user: User, settings: Settings) -> bool:
    if user.is_admin:
        return True
    configured = {normalize_email(email) for email in settings.admin_emails}
    return is_email_verified(user) and normalize_email(user.email) in configured


def is_email_verified(user: User) -> bool:
    return user.email_verified_at is not None
