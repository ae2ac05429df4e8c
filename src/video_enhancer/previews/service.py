"""Previews: requesting one (API, the caller's transaction) and the worker's claim, completion
and failure (each its own short transaction).

A preview is queued at the lowest priority: a worker takes one only when no job is waiting
(`worker.process`). It is never charged and does not use the FREE plan's video; a plan allows
`previews_per_day` of them in any 24 hours. Asking again for the same span (the same
`startSeconds`, or none) returns the preview already made or under way; a FAILED one is retried.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, func, or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from video_enhancer.billing.plans import limits_for
from video_enhancer.config import Settings
from video_enhancer.db import session_scope
from video_enhancer.errors import InvalidState
from video_enhancer.events.service import append_event
from video_enhancer.models import EventType, Preview, PreviewStatus, User, Video, utcnow
from video_enhancer.previews.errors import PreviewLimitReached
from video_enhancer.previews.schemas import PreviewOut
from video_enhancer.queue.database import at, is_postgres
from video_enhancer.storage import keys
from video_enhancer.storage.base import Storage
from video_enhancer.videos import repository
from video_enhancer.videos.errors import VideoNotFound

MAX_ATTEMPTS = 3
_DAY = timedelta(hours=24)


def request_preview(
    session: Session, user: User, video_id: uuid.UUID, start_seconds: float | None, settings: Settings
) -> tuple[Preview, bool]:
    """The preview of this span (existing or newly QUEUED) and whether it is new."""
    video = repository.get_owned_video(session, user.id, video_id)
    if video is None:
        raise VideoNotFound()
    if video.uploaded_at is None:
        raise InvalidState("The video's upload is not complete yet.")
    if (
        video.duration_seconds is not None
        and start_seconds is not None
        and start_seconds >= video.duration_seconds
    ):
        raise InvalidState(f"startSeconds must be below the video's {video.duration_seconds:.2f} seconds.")
    owner = repository.lock_user(session, user.id)  # previews of one user are counted one at a time
    existing = _same_span(session, video.id, start_seconds)
    if existing is not None:
        return existing, False
    limits = limits_for(owner.plan)
    _check_daily_limit(session, owner, limits.previews_per_day)
    job = repository.latest_job(session, video.id)
    # What the full job will do: its enhancer and height (within the plan of the day).
    height = min(job.max_output_height, limits.max_output_height) if job else limits.max_output_height
    preview = Preview(
        user_id=owner.id,
        video_id=video.id,
        requested_start_seconds=start_seconds,
        seconds=settings.preview_seconds,
        max_output_height=height,
        enhancer=(job.enhancer if job else None) or settings.resolved_enhancer,
    )
    session.add(preview)
    session.flush()
    return preview, True


def _same_span(session: Session, video_id: uuid.UUID, start_seconds: float | None) -> Preview | None:
    same = (
        Preview.requested_start_seconds.is_(None)
        if start_seconds is None
        else Preview.requested_start_seconds == start_seconds
    )
    query = (
        select(Preview)
        .where(Preview.video_id == video_id, same, Preview.status != PreviewStatus.FAILED)
        .order_by(Preview.created_at.desc())
        .limit(1)
    )
    return session.scalars(query).first()


def _check_daily_limit(session: Session, user: User, per_day: int) -> None:
    now = utcnow()
    query = select(func.count(Preview.id), func.min(Preview.created_at)).where(
        Preview.user_id == user.id, Preview.created_at >= at(now - _DAY)
    )
    count, oldest = session.execute(query).one()
    if int(count or 0) < per_day:
        return
    retry_after = max(1, int((oldest + _DAY - now).total_seconds())) if oldest else 3600
    message = f"The {user.plan} plan includes {per_day} previews a day."
    raise PreviewLimitReached(retry_after, message)


def previews_of(session: Session, video_id: uuid.UUID) -> list[Preview]:
    query = select(Preview).where(Preview.video_id == video_id).order_by(Preview.created_at.desc())
    return list(session.scalars(query))


# The worker


@dataclass(frozen=True, slots=True)
class ClaimedPreview:
    preview_id: uuid.UUID
    video_id: uuid.UUID
    user_id: uuid.UUID
    worker_id: str
    enhancer: str | None = None  # the job's enhancer, which the preview must show


def _runnable(now: datetime) -> ColumnElement[bool]:
    lost = (Preview.status == PreviewStatus.PROCESSING) & (Preview.lease_expires_at < at(now))
    return or_(Preview.status == PreviewStatus.QUEUED, lost)


def claim_next_preview(
    session_factory: sessionmaker[Session],
    worker_id: str,
    lease_seconds: float,
    enhancers: Collection[str] | None = None,
) -> ClaimedPreview | None:
    """The oldest runnable preview -> PROCESSING in one statement; None when there is none.

    `enhancers` (None: any) limits the claim to previews of those enhancers, as jobs are: a
    preview made with another enhancer than its job's would show the user the wrong result."""
    now = utcnow()
    postgres = is_postgres(session_factory)
    runnable = _runnable(now)
    if enhancers is not None:
        runnable = runnable & or_(Preview.enhancer.in_(list(enhancers)), Preview.enhancer.is_(None))
    candidate = select(Preview.id).where(runnable).order_by(Preview.created_at).limit(1)
    if postgres:
        candidate = candidate.with_for_update(skip_locked=True)
    statement = (
        update(Preview)
        .where(Preview.id == candidate.scalar_subquery(), runnable)
        .values(
            status=PreviewStatus.PROCESSING,
            lease_owner=worker_id,
            lease_expires_at=now + timedelta(seconds=lease_seconds),
            attempts=Preview.attempts + 1,
        )
        .returning(Preview.id, Preview.video_id, Preview.user_id, Preview.attempts, Preview.enhancer)
        .execution_options(synchronize_session=False)
    )
    with session_scope(session_factory) as session:
        row = session.execute(statement).first()
        if row is not None and row.attempts > MAX_ATTEMPTS:
            _finish(
                session, row.id, worker_id, _failed("WORKER_LOST", "The preview's worker stopped too often.")
            )
            return None
    if row is None:
        return None
    return ClaimedPreview(row.id, row.video_id, row.user_id, worker_id, row.enhancer)


def _failed(code: str, message: str) -> dict[str, object]:
    return {"status": PreviewStatus.FAILED, "error_code": code, "error_message": message}


def _finish(session: Session, preview_id: uuid.UUID, worker_id: str, values: dict[str, object]) -> bool:
    moved = session.execute(
        update(Preview)
        .where(
            Preview.id == preview_id,
            Preview.status == PreviewStatus.PROCESSING,
            Preview.lease_owner == worker_id,
        )
        .values(**values, lease_owner=None, lease_expires_at=None, completed_at=utcnow())
        .returning(Preview.id)
        .execution_options(synchronize_session=False)
    ).first()
    if moved is None:
        return False
    preview = session.scalars(
        select(Preview).where(Preview.id == preview_id).execution_options(populate_existing=True)
    ).one()
    _append(session, preview)
    return True


def _append(session: Session, preview: Preview) -> None:
    completed = preview.status == PreviewStatus.COMPLETED
    data: dict[str, object] = {"previewId": str(preview.id), "videoId": str(preview.video_id)}
    if completed:
        data |= {"startSeconds": preview.start_seconds, "quality": preview.quality}
    else:
        data |= {"errorCode": preview.error_code, "errorMessage": preview.error_message}
    event = EventType.PREVIEW_COMPLETED if completed else EventType.PREVIEW_FAILED
    append_event(session, event, user_id=preview.user_id, video_id=preview.video_id, data=data)


@dataclass(frozen=True, slots=True)
class PreviewMade:
    """What the worker made: the span chosen, the enhancer that ran and the checks of `after`."""

    start_seconds: float
    enhancer: str
    quality: dict[str, object]
    content_credentials: dict[str, object] | None


def complete_preview(
    session_factory: sessionmaker[Session], claimed: ClaimedPreview, made: PreviewMade
) -> bool:
    values = {
        "status": PreviewStatus.COMPLETED,
        "start_seconds": made.start_seconds,
        "enhancer": made.enhancer,
        "quality": made.quality,
        "content_credentials": made.content_credentials,
        "error_code": None,
        "error_message": None,
    }
    with session_scope(session_factory) as session:
        return _finish(session, claimed.preview_id, claimed.worker_id, values)


def fail_preview(
    session_factory: sessionmaker[Session], claimed: ClaimedPreview, code: str, message: str
) -> bool:
    with session_scope(session_factory) as session:
        return _finish(session, claimed.preview_id, claimed.worker_id, _failed(code, message))


def video_of(session_factory: sessionmaker[Session], claimed: ClaimedPreview) -> tuple[Video, Preview] | None:
    with session_factory() as session:
        video = session.get(Video, claimed.video_id)
        preview = session.get(Preview, claimed.preview_id)
        if video is None or preview is None or video.deleted_at is not None:
            return None
        session.expunge_all()
        return video, preview


# Reading


def preview_out(preview: Preview, storage: Storage, settings: Settings) -> PreviewOut:
    """The preview as the API shows it, with signed URLs once its files exist."""
    urls: dict[str, str | None] = {"before.mp4": None, "after.mp4": None, "compare.jpg": None}
    expires: datetime | None = None
    if preview.status == PreviewStatus.COMPLETED:
        for name in urls:
            key = keys.preview_file_key(preview.user_id, preview.video_id, preview.id, name)
            signed = storage.signed_download_url(
                "enhanced", key, ttl_seconds=settings.download_url_ttl_seconds
            )
            urls[name], expires = signed.url, signed.expires_at
    return PreviewOut.model_validate(
        {
            **{name: getattr(preview, name) for name in _COLUMNS},
            "before_url": urls["before.mp4"],
            "after_url": urls["after.mp4"],
            "comparison_image_url": urls["compare.jpg"],
            "urls_expire_at": expires,
        }
    )


_COLUMNS = (
    "id",
    "video_id",
    "status",
    "requested_start_seconds",
    "start_seconds",
    "seconds",
    "enhancer",
    "max_output_height",
    "quality",
    "content_credentials",
    "error_code",
    "error_message",
    "created_at",
    "completed_at",
)
