"""Queries for videos and the rows an upload touches; every read is scoped to its owner."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import bindparam, func, select
from sqlalchemy.orm import Session

from video_enhancer.models import Job, JobStatus, User, Video


def lock_user(session: Session, user_id: uuid.UUID) -> User:
    """The user row, locked until the transaction ends: quota checks of one user run one at a time.

    On PostgreSQL this is `SELECT ... FOR UPDATE`; SQLite renders no FOR UPDATE, but every
    transaction there begins with `BEGIN IMMEDIATE` and so already holds the database write lock.
    """
    query = select(User).where(User.id == user_id).with_for_update().execution_options(populate_existing=True)
    return session.scalars(query).one()


def get_owned_video(session: Session, user_id: uuid.UUID, video_id: uuid.UUID) -> Video | None:
    query = select(Video).where(Video.id == video_id, Video.user_id == user_id, Video.deleted_at.is_(None))
    return session.scalars(query).first()


def get_live_video(session: Session, video_id: uuid.UUID) -> Video | None:
    return session.scalars(select(Video).where(Video.id == video_id, Video.deleted_at.is_(None))).first()


# `GET /videos` is polled: its statements are built once (building one costs more than running it).
_OWNED_VIDEOS = (
    select(Video)
    .where(Video.user_id == bindparam("user_id"), Video.deleted_at.is_(None))
    .order_by(Video.created_at.desc(), Video.id.desc())
    .limit(bindparam("limit"))
    .offset(bindparam("offset"))
)
_OWNED_VIDEO_COUNT = select(func.count(Video.id)).where(
    Video.user_id == bindparam("user_id"), Video.deleted_at.is_(None)
)


def list_owned_videos(session: Session, user_id: uuid.UUID, limit: int, offset: int) -> Sequence[Video]:
    return session.scalars(_OWNED_VIDEOS, {"user_id": user_id, "limit": limit, "offset": offset}).all()


def count_owned_videos(session: Session, user_id: uuid.UUID) -> int:
    return int(session.scalar(_OWNED_VIDEO_COUNT, {"user_id": user_id}) or 0)


def latest_job(session: Session, video_id: uuid.UUID, *, lock: bool = False) -> Job | None:
    query = (
        select(Job).where(Job.video_id == video_id).order_by(Job.created_at.desc(), Job.id.desc()).limit(1)
    )
    if lock:
        query = query.with_for_update().execution_options(populate_existing=True)
    return session.scalars(query).first()


def expired_upload_jobs(session: Session, now: datetime, limit: int) -> Sequence[Job]:
    """Jobs still waiting for bytes past their video's upload deadline, locked; rows another
    transaction holds (an upload finishing right now) are skipped, not waited for."""
    query = (
        select(Job)
        .join(Video, Video.id == Job.video_id)
        .where(Job.status == JobStatus.AWAITING_UPLOAD, Video.upload_expires_at < now)
        .order_by(Video.upload_expires_at)
        .limit(limit)
        .with_for_update(skip_locked=True, of=Job)
    )
    return session.scalars(query).all()
