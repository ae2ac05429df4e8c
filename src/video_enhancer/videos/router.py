"""/videos: request an upload, complete it (external storage), read, list and delete videos."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

import anyio
from fastapi import APIRouter, Header, Path, Query, Request, Response
from sqlalchemy.orm import Session

from video_enhancer.api.deps import CallerId, CurrentUser, SessionDep, SettingsDep, StorageDep, account_of
from video_enhancer.api.schemas import error_responses
from video_enhancer.api.sessions import RequestSessions
from video_enhancer.config import Settings
from video_enhancer.jobs.schemas import JobOut
from video_enhancer.models import Job, Video
from video_enhancer.previews import service as previews_service
from video_enhancer.previews.schemas import PreviewOut, PreviewRequest
from video_enhancer.previews.service import preview_out, previews_of
from video_enhancer.storage.base import Storage
from video_enhancer.videos import service
from video_enhancer.videos.idempotency import (
    HEADER,
    MAX_KEY_LENGTH,
    IdempotentResult,
    request_hash,
    run_idempotent,
)
from video_enhancer.videos.schemas import (
    EnhanceOptions,
    SizeOut,
    SizePlanOut,
    UploadRequest,
    UploadTicket,
    UploadUrlRequest,
    VideoDetail,
    VideoOut,
    VideoPage,
)
from video_enhancer.videos.size_plan import VisibleSizePlan, parse_resolution, visible_plan

router = APIRouter()

VideoIdPath = Annotated[uuid.UUID, Path(alias="videoId")]
IdempotencyKeyHeader = Annotated[
    str | None,
    Header(
        alias=HEADER,
        min_length=1,
        max_length=MAX_KEY_LENGTH,
        pattern=r"^[\x21-\x7e]+$",
        description="Any unique string (a UUID): a retry with the same key and body gets the first "
        "answer for 24 hours instead of doing the work twice.",
    ),
]


def upload_ticket(grant: service.UploadGrant, resumable: bool) -> UploadTicket:
    return UploadTicket(
        upload_url=grant.upload.url,
        upload_headers=grant.upload.headers,
        upload_expires_at=grant.upload.expires_at,
        upload_protocol="resumable" if resumable else "single",
        video_id=grant.video.id,
        job_id=grant.job.id,
        enhancer=grant.job.enhancer,
        output_height=grant.job.max_output_height,
        planned_sizes=_plan_out(grant.planned) if grant.planned else None,
    )


def _plan_out(plan: VisibleSizePlan) -> SizePlanOut:
    return SizePlanOut(
        source_size=SizeOut(width=plan.source[0], height=plan.source[1]),
        model_input_size=SizeOut(width=plan.model_input[0], height=plan.model_input[1]),
        output_size=SizeOut(width=plan.output[0], height=plan.output[1]),
        enhancer=plan.enhancer,
    )


def _mark_replayed(response: Response, replayed: bool) -> None:
    if replayed:
        response.headers["Idempotent-Replayed"] = "true"


_DERIVED = frozenset(
    {
        "status",
        "source_size",
        "model_input_size",
        "output_size",
        "enhancer",
        "thumbnail_url",
        "output_thumbnail_url",
    }
)


def _video_out(
    video: Video | Any, latest: Job | service.LatestJob | None, pictures: dict[str, str]
) -> VideoOut:
    """A video (a `Video`, or a row with its columns) and its latest job, as lists show them,
    with its pictures' signed URLs (`service.picture_urls`)."""
    return VideoOut.model_validate(
        {
            **{name: getattr(video, name) for name in VideoOut.model_fields if name not in _DERIVED},
            "thumbnail_url": pictures.get("thumbnail"),
            "output_thumbnail_url": pictures.get("output_thumbnail"),
            "status": latest.status if latest else None,
            "enhancer": latest.enhancer if latest else None,
            **_measured_plan(video.resolution, latest),
        }
    )


def _measured_plan(resolution: str | None, latest: Job | service.LatestJob | None) -> dict[str, object]:
    source = parse_resolution(resolution)
    if source is None or latest is None or latest.enhancer is None:
        return {}
    plan = _plan_out(visible_plan(source, latest.max_output_height, latest.enhancer))
    return {name: getattr(plan, name) for name in ("source_size", "model_input_size", "output_size")}


def _video_detail(
    view: service.VideoView, previews: list[PreviewOut], storage: Storage, settings: Settings
) -> VideoDetail:
    pictures = service.picture_urls(view.video, storage, settings)
    return VideoDetail.model_validate(
        {
            **_video_out(view.video, view.jobs[0] if view.jobs else None, pictures).model_dump(),
            "storyboard_url": pictures.get("storyboard"),
            "storyboard_timing_url": pictures.get("storyboard_timing"),
            "previews": previews,
            "jobs": [JobOut.model_validate(job) for job in view.jobs],
            "download_url": view.download.url if view.download else None,
            "download_expires_at": view.download.expires_at if view.download else None,
            "source_url": view.source.url if view.source else None,
        }
    )


@router.post(
    "/upload",
    operation_id="createUpload",
    status_code=201,
    response_model=UploadTicket,
    responses=error_responses(400, 401, 403, 413, 422, 503),
    summary="Request a signed upload URL (checks the plan and places a quota hold)",
)
async def request_upload(
    body: UploadRequest,
    response: Response,
    request: Request,
    user_id: CallerId,
    idempotency_key: IdempotencyKeyHeader = None,
) -> UploadTicket:
    # Arrives amid polling: its transaction runs in one thread hop (`RequestSessions.write`).
    sessions: RequestSessions = request.app.state.request_sessions
    settings: Settings = request.app.state.settings
    storage: Storage = request.app.state.storage
    fingerprint = request_hash("POST /videos/upload", body.model_dump(mode="json"))

    def work(session: Session) -> IdempotentResult[UploadTicket]:
        user = account_of(session, user_id)

        def create() -> UploadTicket:
            return upload_ticket(
                service.create_upload(session, user.id, body, storage, settings), body.resumable
            )

        return run_idempotent(session, user.id, idempotency_key, fingerprint, create, UploadTicket, 201)

    result = await sessions.write(work)
    _mark_replayed(response, result.replayed)
    return result.response


@router.post(
    "/{videoId}/complete",
    operation_id="completeUpload",
    response_model=JobOut,
    responses=error_responses(400, 401, 404, 409, 422, 503),
    summary="Confirm an upload made to external storage; queues the job (idempotent)",
)
def complete_upload(
    video_id: VideoIdPath,
    response: Response,
    session: SessionDep,
    settings: SettingsDep,
    storage: StorageDep,
    user: CurrentUser,
    idempotency_key: IdempotencyKeyHeader = None,
) -> JobOut:
    def complete() -> JobOut:
        return JobOut.model_validate(service.complete_upload(session, user, video_id, storage, settings))

    fingerprint = request_hash(f"POST /videos/{video_id}/complete", {})
    result = run_idempotent(session, user.id, idempotency_key, fingerprint, complete, JobOut)
    _mark_replayed(response, result.replayed)
    return result.response


@router.post(
    "/{videoId}/jobs",
    operation_id="startVideoJob",
    response_model=JobOut,
    responses=error_responses(400, 401, 403, 404, 409, 413, 422, 503),
    summary="Start the job of a video uploaded with autoStart false, optionally with another enhancer "
    "or output height (checks the plan, places the quota hold, queues it; idempotent)",
)
def start_video_job(
    video_id: VideoIdPath,
    session: SessionDep,
    settings: SettingsDep,
    user: CurrentUser,
    body: EnhanceOptions | None = None,
) -> JobOut:
    asked = body or EnhanceOptions()
    return JobOut.model_validate(service.start_video_job(session, user, video_id, asked, settings))


@router.post(
    "/{videoId}/upload-url",
    operation_id="renewUploadUrl",
    response_model=UploadTicket,
    responses=error_responses(400, 401, 404, 409, 503),
    summary="A fresh upload URL for a video still awaiting its upload (single or resumable)",
)
def renew_upload_url(
    video_id: VideoIdPath,
    session: SessionDep,
    settings: SettingsDep,
    storage: StorageDep,
    user: CurrentUser,
    body: UploadUrlRequest | None = None,
) -> UploadTicket:
    resumable = body.resumable if body else False
    grant = service.renew_upload_url(session, user, video_id, storage, settings, resumable=resumable)
    return upload_ticket(grant, resumable)


@router.get(
    "",
    operation_id="listVideos",
    response_model=VideoPage,
    responses=error_responses(401),
    summary="List your videos, newest first",
)
async def list_videos(
    request: Request,
    user_id: CallerId,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> VideoPage:
    # Apps poll this too: one statement, read as `GET /jobs/{jobId}` reads (`RequestSessions.rows`).
    sessions: RequestSessions = request.app.state.request_sessions
    settings: Settings = request.app.state.settings
    storage: Storage = request.app.state.storage
    rows = await sessions.rows(*service.list_query(user_id, limit, offset))
    listed, total = service.listed_videos(rows, user_id)

    def page() -> VideoPage:
        items = [
            _video_out(
                item.video,
                item.latest,
                service.picture_urls(item.video, storage, settings, service.LISTED_PICTURES),
            )
            for item in listed
        ]
        return VideoPage(items=items, total=total, limit=limit, offset=offset)

    # Pictures' URLs are signed here, out of the read: a signature may be a call to a service.
    return page() if storage.signs_offline else await anyio.to_thread.run_sync(page)


@router.get(
    "/{videoId}",
    operation_id="getVideo",
    response_model=VideoDetail,
    responses=error_responses(401, 404, 503),
    summary="A video, its jobs, and a download URL once the enhanced video exists",
)
def get_video(
    video_id: VideoIdPath, session: SessionDep, settings: SettingsDep, storage: StorageDep, user: CurrentUser
) -> VideoDetail:
    view = service.get_video(session, user, video_id, storage, settings)
    previews = [preview_out(p, storage, settings) for p in previews_of(session, view.video.id)]
    return _video_detail(view, previews, storage, settings)


@router.post(
    "/{videoId}/preview",
    operation_id="requestPreview",
    status_code=202,
    response_model=PreviewOut,
    responses=error_responses(400, 401, 404, 409, 422, 429),
    summary="A free before/after preview of a short span (queued at the lowest priority; the same "
    "span again returns the existing preview with 200)",
)
def request_preview(
    video_id: VideoIdPath,
    response: Response,
    session: SessionDep,
    settings: SettingsDep,
    storage: StorageDep,
    user: CurrentUser,
    body: PreviewRequest | None = None,
) -> PreviewOut:
    start = body.start_seconds if body else None
    preview, created = previews_service.request_preview(session, user, video_id, start, settings)
    if not created:
        response.status_code = 200
    return preview_out(preview, storage, settings)


@router.delete(
    "/{videoId}",
    operation_id="deleteVideo",
    status_code=204,
    response_class=Response,
    responses=error_responses(401, 404, 503),
    summary="Delete a video: cancels its active job and removes its stored files",
)
def delete_video(
    video_id: VideoIdPath, session: SessionDep, storage: StorageDep, user: CurrentUser
) -> Response:
    service.delete_video(session, user, video_id, storage)
    return Response(status_code=204)
