"""/batches: several videos in one request, followed together."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Path
from fastapi.responses import StreamingResponse

from video_enhancer.api.deps import CurrentUser, SessionDep, SettingsDep, StorageDep
from video_enhancer.api.schemas import error_responses
from video_enhancer.batches import service
from video_enhancer.batches.archive import stream_zip
from video_enhancer.batches.schemas import BatchOut, BatchPage, BatchRequest, BatchTickets, BatchVideo
from video_enhancer.batches.status import aggregate_status
from video_enhancer.models import Batch, Job
from video_enhancer.videos.router import upload_ticket

router = APIRouter()

BatchIdPath = Annotated[uuid.UUID, Path(alias="batchId")]


def batch_out(batch: Batch, jobs: list[Job]) -> BatchOut:
    return BatchOut(
        id=batch.id,
        created_at=batch.created_at,
        status=aggregate_status([job.status for job in jobs]),
        progress_percent=service.progress_percent(jobs),
        minutes_held=sum(job.minutes_held for job in jobs if not job.status.is_terminal),
        minutes_charged=sum(job.minutes_charged or 0 for job in jobs),
        videos=[
            BatchVideo(
                video_id=job.video_id,
                job_id=job.id,
                status=job.status,
                frames_done=job.frames_done,
                frames_total=job.frames_total,
            )
            for job in jobs
        ],
    )


@router.post(
    "",
    operation_id="createBatch",
    status_code=201,
    response_model=BatchTickets,
    responses=error_responses(400, 401, 403, 413, 503),
    summary="Request upload URLs for several videos at once (all or none)",
)
def create_batch(
    body: BatchRequest, session: SessionDep, settings: SettingsDep, storage: StorageDep, user: CurrentUser
) -> BatchTickets:
    batch, grants = service.create_batch(session, user, body, storage, settings)
    tickets = [
        upload_ticket(grant, video.resumable) for grant, video in zip(grants, body.videos, strict=True)
    ]
    return BatchTickets(batch_id=batch.id, videos=tickets)


@router.get(
    "",
    operation_id="listBatches",
    response_model=BatchPage,
    responses=error_responses(401),
    summary="Your batches, newest first (the latest 100)",
)
def list_batches(session: SessionDep, user: CurrentUser) -> BatchPage:
    return BatchPage(items=[batch_out(batch, jobs) for batch, jobs in service.list_batches(session, user)])


@router.get(
    "/{batchId}",
    operation_id="getBatch",
    response_model=BatchOut,
    responses=error_responses(401, 404),
    summary="A batch's videos, aggregate status and progress",
)
def get_batch(batch_id: BatchIdPath, session: SessionDep, user: CurrentUser) -> BatchOut:
    return batch_out(*service.get_batch(session, user, batch_id))


@router.get(
    "/{batchId}/download",
    operation_id="downloadBatch",
    response_class=StreamingResponse,
    responses={
        200: {"content": {"application/zip": {}}, "description": "A ZIP of the enhanced videos."},
        **error_responses(401, 404, 409),
    },
    summary="One ZIP of every enhanced video of the batch, streamed",
)
def download_batch(
    batch_id: BatchIdPath, session: SessionDep, storage: StorageDep, user: CurrentUser
) -> StreamingResponse:
    entries = service.download_entries(session, user, batch_id)
    files = ((name, storage.open_read("enhanced", key)) for name, key in entries)
    headers = {"Content-Disposition": f'attachment; filename="batch-{batch_id}.zip"'}
    return StreamingResponse(stream_zip(files), media_type="application/zip", headers=headers)
