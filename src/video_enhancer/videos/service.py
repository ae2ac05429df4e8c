"""Videos: requesting an upload under the plan's limits, completing it, reading and deleting.

An upload request locks the user row, checks the plan, and writes the video, its job and the
job's quota hold (`minutes_held` of an active job) in the caller's transaction, so concurrent
requests cannot oversubscribe a quota. The job is queued only once its bytes are in storage.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import PurePosixPath
from typing import Any

from sqlalchemy import Select
from sqlalchemy.orm import Session, sessionmaker

from video_enhancer.auth.tokens import caller_page
from video_enhancer.billing.plans import PlanLimits, limits_for
from video_enhancer.billing.service import minutes_for_duration, usage_for
from video_enhancer.config import Settings
from video_enhancer.db import session_scope
from video_enhancer.errors import InvalidState, PayloadTooLarge, QuotaExceeded
from video_enhancer.jobs.lifecycle import enqueue_job, expire_uploads, request_cancel, start_job, store_upload
from video_enhancer.jobs.repository import jobs_of_video
from video_enhancer.logging import request_id_var
from video_enhancer.models import ACTIVE_STATUSES, Job, JobStatus, User, Video, utcnow
from video_enhancer.observability.metrics import QUOTA_REJECTIONS
from video_enhancer.storage import keys
from video_enhancer.storage.base import SignedUrl, Storage
from video_enhancer.videos import repository
from video_enhancer.videos.errors import (
    DurationExceeded,
    SizeMismatch,
    UnsupportedMediaType,
    UploadIncomplete,
    VideoNotFound,
)
from video_enhancer.videos.options import JobOptions, resolve_options
from video_enhancer.videos.schemas import EnhanceOptions, UploadRequest
from video_enhancer.videos.size_plan import VisibleSizePlan, visible_plan

# The containers the worker's decoder reads; the extension keeps the raw object recognisable.
VIDEO_EXTENSIONS: dict[str, str] = {
    "video/mp4": ".mp4",
    "video/quicktime": ".mov",
    "video/x-matroska": ".mkv",
    "video/webm": ".webm",
    "video/x-m4v": ".m4v",
    "video/3gpp": ".3gp",
}
_EXPIRE_BATCH = 500


# Requesting an upload


@dataclass(frozen=True, slots=True)
class UploadGrant:
    video: Video
    job: Job
    upload: SignedUrl
    planned: VisibleSizePlan | None = None


def create_upload(
    session: Session, user_id: uuid.UUID, request: UploadRequest, storage: Storage, settings: Settings
) -> UploadGrant:
    content_type = request.content_type.split(";")[0].strip().lower()
    extension = VIDEO_EXTENSIONS.get(content_type)
    if extension is None:
        raise UnsupportedMediaType(
            f"{content_type!r} is not supported; send one of {sorted(VIDEO_EXTENSIONS)}."
        )
    user = repository.lock_user(session, user_id)
    limits = limits_for(user.plan)
    minutes = minutes_for_duration(request.duration_seconds)
    claim = _Claim(request.duration_seconds, request.size_bytes, minutes)
    # Without autoStart nothing is held yet: the video and minutes are checked when it starts.
    _check_plan(session, user, limits, claim, holds=request.auto_start)
    options = resolve_options(user, limits, request, settings)

    video_id = uuid.uuid4()
    key = keys.raw_key(user.id, video_id, extension)
    video = Video(
        id=video_id,
        user_id=user.id,
        original_filename=_clean_filename(request.filename),
        content_type=content_type,
        size_bytes=request.size_bytes,
        claimed_duration_seconds=request.duration_seconds,
        storage_path=key,
        upload_expires_at=utcnow() + timedelta(seconds=settings.upload_expiry_seconds),
    )
    session.add(video)
    session.flush()  # the job references the video, and no ORM relationship orders the inserts
    job = _new_job(user, video_id, limits, minutes if request.auto_start else 0, settings)
    job.holds_video = request.auto_start
    job.enhancer, job.max_output_height = options.enhancer, options.output_height
    if request.auto_start:
        user.videos_created += 1
    session.add(job)
    session.flush()
    ttl_seconds = min(settings.upload_url_ttl_seconds, settings.upload_expiry_seconds)
    upload = _upload_url(storage, video, ttl_seconds, resumable=request.resumable)
    return UploadGrant(video=video, job=job, upload=upload, planned=_claimed_plan(request, job))


def _claimed_plan(request: UploadRequest, job: Job) -> VisibleSizePlan | None:
    if request.width is None or request.height is None or job.enhancer is None:
        return None
    return visible_plan((request.width, request.height), job.max_output_height, job.enhancer)


def _upload_url(storage: Storage, video: Video, ttl_seconds: int, *, resumable: bool) -> SignedUrl:
    sign = storage.resumable_upload_url if resumable else storage.signed_upload_url
    return sign(
        "raw",
        video.storage_path,
        content_type=video.content_type,
        size_bytes=video.size_bytes,
        ttl_seconds=ttl_seconds,
    )


def renew_upload_url(
    session: Session,
    user: User,
    video_id: uuid.UUID,
    storage: Storage,
    settings: Settings,
    *,
    resumable: bool = False,
) -> UploadGrant:
    """A fresh upload URL for a video whose job still waits for its bytes (the first one expired,
    or the app wants a resumable session); it never outlives the upload's deadline."""
    video = repository.get_owned_video(session, user.id, video_id)
    if video is None:
        raise VideoNotFound()
    job = repository.latest_job(session, video.id)
    if job is None or job.status != JobStatus.AWAITING_UPLOAD:
        raise InvalidState("This video is not waiting for an upload.")
    seconds_left = int((video.upload_expires_at - utcnow()).total_seconds()) if video.upload_expires_at else 0
    if seconds_left < 1:
        raise InvalidState("The upload window of this video has ended.")
    ttl_seconds = min(settings.upload_url_ttl_seconds, seconds_left)
    upload = _upload_url(storage, video, ttl_seconds, resumable=resumable)
    return UploadGrant(video=video, job=job, upload=upload)


@dataclass(frozen=True, slots=True)
class _Claim:
    """What the app declared about the file, checked against the plan."""

    duration_seconds: float
    size_bytes: int
    minutes: int


def _check_plan(session: Session, user: User, limits: PlanLimits, claim: _Claim, *, holds: bool) -> None:
    if holds:
        _check_holdings(session, user, limits, claim)
    _check_file(user, limits, claim)


def _check_holdings(session: Session, user: User, limits: PlanLimits, claim: _Claim) -> None:
    if limits.lifetime_videos is not None and user.videos_created >= limits.lifetime_videos:
        _reject(
            user,
            "lifetime_videos",
            QuotaExceeded(f"The {user.plan} plan includes {limits.lifetime_videos} video(s)."),
        )
    remaining = usage_for(session, user).minutes_remaining
    if remaining is not None and claim.minutes > remaining:
        message = f"This video needs {claim.minutes} minute(s); {remaining} remain."
        _reject(user, "minutes", QuotaExceeded(message))


def _check_file(user: User, limits: PlanLimits, claim: _Claim) -> None:
    if claim.duration_seconds > limits.max_duration_seconds:
        _reject(
            user,
            "duration",
            DurationExceeded(
                f"The {user.plan} plan allows videos up to {limits.max_duration_seconds} seconds."
            ),
        )
    if claim.size_bytes > limits.max_upload_bytes:
        _reject(
            user,
            "upload_size",
            PayloadTooLarge(f"The {user.plan} plan allows uploads up to {limits.max_upload_bytes} bytes."),
        )


def _reject(user: User, reason: str, error: Exception) -> None:
    QUOTA_REJECTIONS.labels(plan=str(user.plan), reason=reason).inc()
    raise error


def _new_job(user: User, video_id: uuid.UUID, limits: PlanLimits, minutes: int, settings: Settings) -> Job:
    return Job(
        id=uuid.uuid4(),
        user_id=user.id,
        video_id=video_id,  # status: AWAITING_UPLOAD, the column default; jobs.lifecycle moves it on
        priority=limits.queue_priority,
        minutes_held=minutes,
        max_duration_seconds=limits.max_duration_seconds,
        max_output_height=limits.max_output_height,
        max_attempts=settings.job_max_attempts,
        request_id=request_id_var.get(),
        enhancer=settings.resolved_enhancer,
    )


def _clean_filename(filename: str) -> str:
    # Keep only the last path segment and printable characters: the name is shown back and
    # used in a Content-Disposition header.
    name = PurePosixPath(filename.replace("\\", "/")).name
    return "".join(ch for ch in name if ch.isprintable())[:255] or "video"


# Completing an upload


def ensure_upload_expected(session: Session, key: str) -> Video:
    """The live video a raw key belongs to, when its job still waits for bytes (job row locked)."""
    video_id = keys.video_id_of_raw_key(key)
    video = repository.get_live_video(session, video_id) if video_id else None
    if video is None or video.storage_path != key:
        raise VideoNotFound("No upload is expected under this key.")
    job = repository.latest_job(session, video.id, lock=True)
    if job is None or job.status not in (JobStatus.AWAITING_UPLOAD, JobStatus.UPLOADED):
        raise InvalidState("This video is not waiting for an upload.")
    return video


def mark_upload_complete(session: Session, video: Video, storage: Storage, settings: Settings) -> Job:
    """Queue the video's job once its bytes are in storage at the declared size (idempotent)."""
    job = repository.latest_job(session, video.id, lock=True)
    if job is None:
        raise VideoNotFound()
    if job.status in (JobStatus.QUEUED, JobStatus.PROCESSING, JobStatus.COMPLETED):
        return job
    if job.status not in (JobStatus.AWAITING_UPLOAD, JobStatus.UPLOADED):
        raise InvalidState(f"The video's job is {job.status}.")
    size = storage.size("raw", video.storage_path)
    if size is None:
        raise UploadIncomplete()
    if size != video.size_bytes:
        raise SizeMismatch(f"Storage holds {size} bytes; {video.size_bytes} were declared.")
    video.uploaded_at = video.uploaded_at or utcnow()
    if job.holds_video:
        enqueue_job(session, job, settings)
    else:
        store_upload(session, job)
    return job


def start_video_job(
    session: Session, user: User, video_id: uuid.UUID, asked: EnhanceOptions, settings: Settings
) -> Job:
    """`POST /videos/{videoId}/jobs`: check the plan and the options, place the hold and queue the
    uploaded video's job (idempotent once started: a repeat returns the job as it runs, whatever it
    asks). Locks the job, then the user, like every lifecycle transition."""
    video = repository.get_owned_video(session, user.id, video_id)
    job = repository.latest_job(session, video.id, lock=True) if video else None
    if video is None or job is None:
        raise VideoNotFound()
    if job.holds_video:  # started already (or uploaded with autoStart)
        return job
    if job.status != JobStatus.UPLOADED:
        raise InvalidState(f"The video's job is {job.status}; only an uploaded video can be started.")
    owner = repository.lock_user(session, user.id)
    limits = limits_for(owner.plan)
    minutes = minutes_for_duration(video.duration_seconds or video.claimed_duration_seconds)
    claim = _Claim(video.claimed_duration_seconds, video.size_bytes, minutes)
    _check_plan(session, owner, limits, claim, holds=True)
    chosen = JobOptions(job.enhancer or settings.resolved_enhancer, job.max_output_height)
    options = resolve_options(owner, limits, asked, settings, chosen=chosen)
    job.enhancer, job.max_output_height = options.enhancer, options.output_height
    session.flush()
    start_job(session, job, owner, minutes, settings)
    return job


def complete_upload_by_key(
    session_factory: sessionmaker[Session], storage: Storage, settings: Settings
) -> Callable[[str], None]:
    """What `POST /videos/{id}/complete` does, keyed by the raw object's name (GCS notifications)."""

    def complete(key: str) -> None:
        with session_scope(session_factory) as session:
            video = ensure_upload_expected(session, key)
            mark_upload_complete(session, video, storage, settings)

    return complete


def complete_upload(
    session: Session, user: User, video_id: uuid.UUID, storage: Storage, settings: Settings
) -> Job:
    video = repository.get_owned_video(session, user.id, video_id)
    if video is None:
        raise VideoNotFound()
    return mark_upload_complete(session, video, storage, settings)


def expire_stale_uploads(
    session: Session, settings: Settings, now: datetime, storage: Storage | None = None
) -> int:
    """Cancel jobs whose upload never finished by its deadline; returns how many.

    The lifecycle's "upload expired" releases their holds and gives the video back; any partial
    object is deleted. Called periodically by the worker process.
    """
    if storage is None:
        from video_enhancer.storage.factory import make_storage

        storage = make_storage(settings)
    jobs = repository.expired_upload_jobs(session, now, _EXPIRE_BATCH)
    expired = set(expire_uploads(session, [job.id for job in jobs], now))
    for job in jobs:
        video = session.get(Video, job.video_id) if job.id in expired else None
        if video is not None:
            storage.delete("raw", video.storage_path)
    _remove_stale_partials(storage, settings, now)
    return len(expired)


def _remove_stale_partials(storage: Storage, settings: Settings, now: datetime) -> None:
    # Uploads cut off mid-stream (e.g. the API restarted): anything untouched for as long as an
    # upload may take is abandoned.
    storage.remove_stale_partials(timedelta(seconds=settings.upload_expiry_seconds), now)


# Reading and deleting


@dataclass(frozen=True, slots=True)
class VideoView:
    video: Video
    jobs: list[Job]
    download: SignedUrl | None = None
    source: SignedUrl | None = None


def get_video(
    session: Session, user: User, video_id: uuid.UUID, storage: Storage, settings: Settings
) -> VideoView:
    video = repository.get_owned_video(session, user.id, video_id)
    if video is None:
        raise VideoNotFound()
    jobs = jobs_of_video(session, video.id)
    download = None
    if video.output_storage_path:
        download = storage.signed_download_url(
            "enhanced",
            video.output_storage_path,
            ttl_seconds=settings.download_url_ttl_seconds,
            filename=f"{PurePosixPath(video.original_filename).stem}-enhanced.mp4",
        )
    source = None
    if video.uploaded_at is not None and video.deleted_at is None:
        source = storage.signed_download_url(
            "raw", video.storage_path, ttl_seconds=settings.download_url_ttl_seconds
        )
    return VideoView(video=video, jobs=jobs, download=download, source=source)


# The pictures a video list shows (a video's page shows them all).
LISTED_PICTURES = frozenset({"thumbnail", "output_thumbnail"})


def picture_urls(
    video: Video | Any, storage: Storage, settings: Settings, only: frozenset[str] | None = None
) -> dict[str, str]:
    """Signed URLs of the video's pictures that exist (poster, storyboard, output poster), or of
    those of them named in `only`: each is a signature, which may be a call to a service."""
    found = {
        "thumbnail": video.thumbnail_path,
        "output_thumbnail": video.output_thumbnail_path,
        "storyboard": video.storyboard_path,
        "storyboard_timing": keys.storyboard_key(video.user_id, video.id, ".json")
        if video.storyboard_path
        else None,
    }
    ttl = settings.download_url_ttl_seconds
    return {
        name: storage.signed_download_url("enhanced", key, ttl_seconds=ttl).url
        for name, key in found.items()
        if key is not None and (only is None or name in only)
    }


@dataclass(frozen=True, slots=True)
class LatestJob:
    """What a video list shows of a video's latest job."""

    status: JobStatus
    enhancer: str | None
    max_output_height: int


@dataclass(frozen=True, slots=True)
class ListedVideo:
    """A video as `GET /videos` lists it: its columns (a row of `list_query`) and its latest job."""

    video: Any
    latest: LatestJob | None


def list_query(user_id: uuid.UUID, limit: int, offset: int) -> tuple[Select[Any], dict[str, Any]]:
    """`GET /videos` as one statement: the account, the count and a page of videos with their
    latest jobs (`repository.listed_videos_query`); its rows make the answer in `listed_videos`."""
    return repository.listed_videos_query(user_id, limit, offset)


def listed_videos(rows: Sequence[Any], user_id: uuid.UUID) -> tuple[list[ListedVideo], int]:
    """The page and the total from the rows of `list_query`, after the account check (a deleted
    account's token is refused at once, as `get_current_user` does)."""
    page, total = caller_page(rows, user_id)
    listed = [
        ListedVideo(
            row,
            LatestJob(row.latest_status, row.latest_enhancer, row.latest_max_output_height)
            if row.latest_status is not None
            else None,
        )
        for row in page
    ]
    return listed, total


def delete_video(session: Session, user: User, video_id: uuid.UUID, storage: Storage) -> None:
    """Cancel the active job, soft-delete the row (the usage ledger keeps its jobs) and remove
    every stored object; storage deletes are idempotent, so a failed request can be retried."""
    video = repository.get_owned_video(session, user.id, video_id)
    if video is None:
        raise VideoNotFound()
    jobs = jobs_of_video(session, video.id)
    for job in jobs:
        if job.status in ACTIVE_STATUSES:
            request_cancel(session, job)
    video.deleted_at = utcnow()
    session.flush()
    storage.delete("raw", video.storage_path)
    if video.output_storage_path:
        storage.delete("enhanced", video.output_storage_path)
    # Whatever else a video or its jobs left (previews, segments of an interrupted job).
    storage.delete_prefix("enhanced", keys.video_prefix(video.user_id, video.id))
    for job in jobs:
        storage.delete_prefix("raw", keys.job_prefix(job.id))
        storage.delete_prefix("enhanced", keys.job_prefix(job.id))
