"""Deleting an account from the app (app stores require it in-app).

The user row stays as an anonymous tombstone: no email, no password, `deleted_at` set, so the
usage ledger and the jobs it charged survive for accounting without naming anyone. Every active
job is canceled (a running one is flagged for its worker), every stored object of the account
is removed, and every credential is dropped: refresh tokens, mailed tokens, idempotency keys,
unsent mail. The email is free to register again at once.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from video_enhancer.auth.rate_limit import email_key
from video_enhancer.auth.repository import clear_failures
from video_enhancer.jobs.lifecycle import request_cancel
from video_enhancer.models import (
    ACTIVE_STATUSES,
    EmailToken,
    IdempotencyKey,
    Job,
    MailMessage,
    RefreshToken,
    User,
    Video,
    utcnow,
)
from video_enhancer.storage import keys
from video_enhancer.storage.base import Area, Storage
from video_enhancer.videos.repository import lock_user

logger = logging.getLogger(__name__)

DELETED_PASSWORD_HASH = "!deleted"  # no bcrypt hash looks like this: no password ever matches


def tombstone_email(user_id: uuid.UUID) -> str:
    return f"deleted-{user_id}@deleted.invalid"  # .invalid is reserved: it can never be delivered


def delete_account(session: Session, user: User, storage: Storage) -> None:
    """Cancel, anonymise and revoke in the caller's transaction, then remove the stored objects
    (deletes are idempotent, so a failed request can simply be sent again)."""
    user = lock_user(session, user.id)
    now = utcnow()
    jobs = list(session.scalars(select(Job).where(Job.user_id == user.id)))
    for job in jobs:
        if job.status in ACTIVE_STATUSES:
            request_cancel(session, job)
    videos = list(session.scalars(select(Video).where(Video.user_id == user.id)))
    _forget_videos(videos, now)
    _drop_credentials(session, user)
    _anonymise(user, now)
    session.flush()
    _remove_objects(storage, user.id, videos, jobs)
    logger.info("account deleted", extra={"user_id": str(user.id), "jobs": len(jobs), "videos": len(videos)})


def _forget_videos(videos: Sequence[Video], now: datetime) -> None:
    for video in videos:
        video.deleted_at = video.deleted_at or now
        video.original_filename = "deleted"


def _drop_credentials(session: Session, user: User) -> None:
    for model in (RefreshToken, EmailToken, IdempotencyKey, MailMessage):
        session.execute(delete(model).where(model.user_id == user.id))
    clear_failures(session, email_key(user.email))


def _anonymise(user: User, now: datetime) -> None:
    user.email = tombstone_email(user.id)
    user.password_hash = DELETED_PASSWORD_HASH
    user.is_admin = False
    user.email_verified_at = None
    user.deleted_at = now


def _remove_objects(
    storage: Storage, user_id: uuid.UUID, videos: Sequence[Video], jobs: Sequence[Job]
) -> None:
    for video in videos:
        storage.delete("raw", video.storage_path)
        if video.output_storage_path:
            storage.delete("enhanced", video.output_storage_path)
        storage.discard_resumable("raw", video.storage_path)
    for job in jobs:
        storage.delete_prefix("raw", keys.job_prefix(job.id))
        storage.delete_prefix("enhanced", keys.job_prefix(job.id))
    areas: tuple[Area, ...] = ("raw", "enhanced")
    for area in areas:
        storage.delete_prefix(area, f"users/{user_id}/")  # anything else the account left behind
