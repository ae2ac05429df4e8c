"""The poster task: every completed upload gets a poster (and a storyboard over 10 s).

A worker runs it ahead of paid work (`worker.process`): claimed in one statement per video,
retried after `lease_seconds` if its worker died, given up after `MAX_ATTEMPTS` (a file no
decoder reads keeps no poster; the job's own probe reports why).
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from sqlalchemy import ColumnElement, or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from video_enhancer.db import session_scope
from video_enhancer.errors import ServiceError
from video_enhancer.media.poster import write_poster, write_storyboard
from video_enhancer.media.probe import probe
from video_enhancer.models import Video, utcnow
from video_enhancer.queue.database import at, is_postgres
from video_enhancer.storage import keys
from video_enhancer.storage.base import Storage
from video_enhancer.worker.scratch import job_scratch

logger = logging.getLogger(__name__)

MAX_ATTEMPTS = 3
STORYBOARD_MIN_SECONDS = 10.0


@dataclass(frozen=True, slots=True)
class PosterTask:
    video_id: uuid.UUID
    user_id: uuid.UUID
    raw_key: str


def _wanted(lease_seconds: float) -> ColumnElement[bool]:
    stale = at(utcnow() - timedelta(seconds=lease_seconds))
    return (
        Video.uploaded_at.is_not(None)
        & Video.thumbnail_path.is_(None)
        & Video.deleted_at.is_(None)
        & (Video.poster_attempts < MAX_ATTEMPTS)
        & or_(Video.poster_claimed_at.is_(None), Video.poster_claimed_at < stale)
    )


def claim_poster_task(session_factory: sessionmaker[Session], lease_seconds: float) -> PosterTask | None:
    candidate = select(Video.id).where(_wanted(lease_seconds)).order_by(Video.uploaded_at).limit(1)
    if is_postgres(session_factory):
        candidate = candidate.with_for_update(skip_locked=True)
    statement = (
        update(Video)
        .where(Video.id == candidate.scalar_subquery(), _wanted(lease_seconds))
        .values(poster_claimed_at=utcnow(), poster_attempts=Video.poster_attempts + 1)
        .returning(Video.id, Video.user_id, Video.storage_path)
        .execution_options(synchronize_session=False)
    )
    with session_scope(session_factory) as session:
        row = session.execute(statement).first()
    return PosterTask(row.id, row.user_id, row.storage_path) if row else None


def run_poster_task(
    session_factory: sessionmaker[Session], storage: Storage, scratch_root: Path, task: PosterTask
) -> bool:
    """Make and store the poster (and storyboard); never raises. True when stored."""
    try:
        with job_scratch(scratch_root, f"poster-{task.video_id}") as scratch:
            paths = _make(storage, task, scratch)
    except ServiceError as exc:
        logger.warning("poster not made", extra={"error_code": exc.code, "video": str(task.video_id)})
        return False
    except Exception:
        logger.exception("poster not made", extra={"video": str(task.video_id)})
        return False
    with session_scope(session_factory) as session:
        session.execute(
            update(Video)
            .where(Video.id == task.video_id)
            .values(thumbnail_path=paths[0], storyboard_path=paths[1])
            .execution_options(synchronize_session=False)
        )
    return True


def _make(storage: Storage, task: PosterTask, scratch: Path) -> tuple[str, str | None]:
    source = scratch / ("source" + Path(task.raw_key).suffix)
    storage.download_to("raw", task.raw_key, source)
    info = probe(source)
    write_poster(info, scratch / "poster.jpg")
    poster = keys.poster_key(task.user_id, task.video_id)
    storage.put_file("enhanced", poster, scratch / "poster.jpg", "image/jpeg")
    if info.duration_s <= STORYBOARD_MIN_SECONDS:
        return poster, None
    write_storyboard(info, scratch / "storyboard.jpg", scratch / "storyboard.json")
    sprite = keys.storyboard_key(task.user_id, task.video_id, ".jpg")
    storage.put_file("enhanced", sprite, scratch / "storyboard.jpg", "image/jpeg")
    timing = keys.storyboard_key(task.user_id, task.video_id, ".json")
    storage.put_file("enhanced", timing, scratch / "storyboard.json", "application/json")
    return poster, sprite
