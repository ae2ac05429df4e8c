"""Creating a batch (all tickets or none) and reading its aggregate state.

The request is one transaction: every video goes through the same plan check and hold as
`POST /videos/upload`, under the user's row lock, so a batch that does not fit leaves nothing
behind (no video, no job, no hold).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from pathlib import PurePosixPath

from sqlalchemy import select
from sqlalchemy.orm import Session

from video_enhancer.batches.schemas import BatchRequest
from video_enhancer.config import Settings
from video_enhancer.errors import BadRequest, InvalidState, NotFound
from video_enhancer.models import Batch, Job, JobStatus, User, Video
from video_enhancer.storage.base import Storage
from video_enhancer.videos import repository as videos_repository
from video_enhancer.videos.service import UploadGrant, create_upload


class BatchNotFound(NotFound):
    default_code = "NOT_FOUND"
    default_message = "Batch not found."


def create_batch(
    session: Session, user: User, request: BatchRequest, storage: Storage, settings: Settings
) -> tuple[Batch, list[UploadGrant]]:
    if len(request.videos) > settings.max_batch_size:
        raise BadRequest(f"A batch holds at most {settings.max_batch_size} videos.")
    videos_repository.lock_user(session, user.id)
    batch = Batch(id=uuid.uuid4(), user_id=user.id)
    session.add(batch)
    session.flush()
    grants = [create_upload(session, user.id, video, storage, settings) for video in request.videos]
    for grant in grants:
        grant.job.batch_id = batch.id
    session.flush()
    return batch, grants


def download_entries(session: Session, user: User, batch_id: uuid.UUID) -> list[tuple[str, str]]:
    """`(name in the ZIP, key in the enhanced area)` of every finished video of the batch."""
    _, jobs = get_batch(session, user, batch_id)
    entries = []
    for number, job in enumerate(jobs, start=1):
        video = session.get(Video, job.video_id)
        if job.status == JobStatus.COMPLETED and video is not None and video.output_storage_path:
            stem = PurePosixPath(video.original_filename).stem or "video"
            entries.append((f"{number:02d}-{stem}-enhanced.mp4", video.output_storage_path))
    if not entries:
        raise InvalidState("No video of this batch is enhanced yet.")
    return entries


def get_batch(session: Session, user: User, batch_id: uuid.UUID) -> tuple[Batch, list[Job]]:
    batch = session.get(Batch, batch_id)
    if batch is None or batch.user_id != user.id:
        raise BatchNotFound()
    return batch, batch_jobs(session, batch.id)


def list_batches(session: Session, user: User) -> list[tuple[Batch, list[Job]]]:
    batches = session.scalars(
        select(Batch).where(Batch.user_id == user.id).order_by(Batch.created_at.desc()).limit(100)
    )
    return [(batch, batch_jobs(session, batch.id)) for batch in batches]


def batch_jobs(session: Session, batch_id: uuid.UUID) -> list[Job]:
    return list(session.scalars(select(Job).where(Job.batch_id == batch_id).order_by(Job.created_at, Job.id)))


def progress_percent(jobs: Sequence[Job]) -> float:
    """By frames: a long video weighs more than a short one; a finished job counts as all done."""
    done = total = 0
    for job in jobs:
        frames = job.frames_total or 0
        total += frames
        done += frames if job.status == JobStatus.COMPLETED else min(job.frames_done or 0, frames)
    if total == 0:
        finished = sum(job.status.is_terminal for job in jobs)
        return round(100.0 * finished / len(jobs), 1) if jobs else 0.0
    return round(100.0 * done / total, 1)
