"""Queries for videos and the rows an upload touches; every read is scoped to its owner."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ScalarSelect, Select, and_, bindparam, func, select
from sqlalchemy.orm import Session

from video_enhancer.db import newest_page
from video_enhancer.models import Job, JobStatus, User, Video, table_of
from video_enhancer.users.repository import with_owner


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


def _listed_videos() -> Select[Any]:
    """The caller's account (`owner_deleted_at`; no row when it does not exist), their count of
    videos (`total`) and a page of them, newest first, each with its latest job's `latest_status`,
    `latest_enhancer` and `latest_max_output_height`: one row per video, or one row of NULL
    video columns when the page is empty. Bind parameters: `user_id`, `limit`, `offset`."""
    videos, jobs = table_of(Video), table_of(Job)
    owned = and_(videos.c.user_id == bindparam("user_id"), videos.c.deleted_at.is_(None))
    page = newest_page(videos, owned)
    total = select(func.count(videos.c.id)).where(owned).scalar_subquery()

    def latest(column: str) -> ScalarSelect[Any]:
        # A correlated lookup per listed video (the index on video_id): a join on the latest
        # job's id let PostgreSQL hash the whole jobs table instead.
        return (
            select(jobs.c[column])
            .where(jobs.c.video_id == page.c.id)
            .order_by(jobs.c.created_at.desc(), jobs.c.id.desc())
            .limit(1)
            .scalar_subquery()
        )

    return with_owner(
        page,
        total,
        latest("status").label("latest_status"),
        latest("enhancer").label("latest_enhancer"),
        latest("max_output_height").label("latest_max_output_height"),
    )


# Built once: `GET /videos` is polled, and building a statement costs more than running it.
_LISTED_VIDEOS = _listed_videos()


def listed_videos_query(user_id: uuid.UUID, limit: int, offset: int) -> tuple[Select[Any], dict[str, Any]]:
    """`_listed_videos` with its parameters: for `RequestSessions.rows`."""
    return _LISTED_VIDEOS, {"user_id": user_id, "limit": limit, "offset": offset}


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
