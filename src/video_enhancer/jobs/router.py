"""/jobs: progress of one's own jobs, and canceling them."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Path, Query, Request

from video_enhancer.api.deps import CallerId, CurrentUser, SessionDep
from video_enhancer.api.schemas import error_responses
from video_enhancer.api.sessions import RequestSessions
from video_enhancer.config import Settings
from video_enhancer.jobs import service
from video_enhancer.jobs.schemas import JobOut, JobPage
from video_enhancer.models import JobStatus, utcnow

router = APIRouter()

JobIdPath = Annotated[uuid.UUID, Path(alias="jobId")]


@router.get(
    "",
    operation_id="listJobs",
    response_model=JobPage,
    responses=error_responses(401),
    summary="List your jobs, newest first",
)
async def list_jobs(
    request: Request,
    user_id: CallerId,
    status: JobStatus | None = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> JobPage:
    # Apps poll this too: one statement, read as `GET /jobs/{jobId}` reads (`RequestSessions.rows`).
    sessions: RequestSessions = request.app.state.request_sessions
    rows = await sessions.rows(*service.list_query(user_id, status, limit, offset))
    jobs, total = service.listed_jobs(rows, user_id)
    return JobPage(
        items=[JobOut.model_validate(job) for job in jobs], total=total, limit=limit, offset=offset
    )


@router.get(
    "/{jobId}",
    operation_id="getJob",
    response_model=JobOut,
    responses=error_responses(401, 404),
    summary="A job's progress",
)
async def get_job(job_id: JobIdPath, user_id: CallerId, request: Request) -> JobOut:
    # What apps poll: one Core statement, no ORM session, no thread hop where the database allows,
    # on the driver's own connection (`RequestSessions.first`); the app's state is read here
    # rather than through more dependencies, each of which costs the poll more than a statement.
    sessions: RequestSessions = request.app.state.request_sessions
    settings: Settings = request.app.state.settings
    now = utcnow()
    row = await sessions.first(*service.poll_query(settings, user_id, job_id, now))
    polled = service.polled_job(row, user_id, now)
    out = JobOut.model_validate(polled.fields)
    out.queue_position = polled.outlook.position
    out.estimated_start_at = polled.outlook.estimated_start_at
    out.waiting_for = polled.outlook.waiting_for
    return out


@router.post(
    "/{jobId}/cancel",
    operation_id="cancelJob",
    response_model=JobOut,
    responses=error_responses(401, 404, 409),
    summary="Cancel a job (a running job stops at its next checkpoint)",
)
def cancel_job(job_id: JobIdPath, session: SessionDep, user: CurrentUser) -> JobOut:
    return JobOut.model_validate(service.cancel_job(session, user, job_id))
