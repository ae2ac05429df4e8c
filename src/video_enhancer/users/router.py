"""HTTP routes: /users/me."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response

from video_enhancer.api.deps import CurrentUser, SessionDep, StorageDep
from video_enhancer.api.schemas import error_responses
from video_enhancer.users.deletion import delete_account
from video_enhancer.users.schemas import (
    DailyUsageOut,
    MeResponse,
    PlanLimitsOut,
    UsageHistoryOut,
    UsageOut,
)
from video_enhancer.users.service import AccountOverview, account_overview
from video_enhancer.users.usage_history import daily_usage

router = APIRouter()


@router.get(
    "/me",
    operation_id="getMe",
    response_model=MeResponse,
    responses=error_responses(401),
    summary="The signed-in user: plan, limits and usage in the current 30-day cycle",
)
def read_me(user: CurrentUser, session: SessionDep) -> MeResponse:
    return _me_response(account_overview(session, user))


@router.get(
    "/me/usage",
    operation_id="getMyUsage",
    response_model=UsageHistoryOut,
    responses=error_responses(401),
    summary="Minutes charged per day over the last `days` days (UTC), for a usage chart",
)
def read_my_usage(
    user: CurrentUser,
    session: SessionDep,
    days: Annotated[int, Query(ge=1, le=366, description="How many days, today included.")] = 90,
) -> UsageHistoryOut:
    buckets = [
        DailyUsageOut(day=day.day, minutes=day.minutes, jobs=day.jobs)
        for day in daily_usage(session, user.id, days)
    ]
    return UsageHistoryOut(
        days=days, total_minutes=sum(bucket.minutes for bucket in buckets), buckets=buckets
    )


@router.delete(
    "/me",
    operation_id="deleteMe",
    status_code=204,
    response_class=Response,
    responses=error_responses(401),
    summary="Delete your account: cancels your jobs, removes your files, signs you out everywhere",
)
def delete_me(user: CurrentUser, session: SessionDep, storage: StorageDep) -> Response:
    delete_account(session, user, storage)
    return Response(status_code=204)


def _me_response(overview: AccountOverview) -> MeResponse:
    user, limits, usage = overview.user, overview.limits, overview.usage
    return MeResponse(
        id=user.id,
        email=user.email,
        plan=user.plan,
        created_at=user.created_at,
        limits=PlanLimitsOut(
            lifetime_videos=limits.lifetime_videos,
            max_duration_seconds=limits.max_duration_seconds,
            minutes_per_cycle=limits.minutes_per_cycle,
            max_output_height=limits.max_output_height,
            priority=limits.queue_priority,
            priority_name=limits.priority_name,
            max_upload_bytes=limits.max_upload_bytes,
        ),
        usage=UsageOut(
            cycle_start=usage.cycle_start,
            cycle_end=usage.cycle_end,
            minutes_used=usage.minutes_used,
            minutes_held=usage.minutes_held,
            minutes_remaining=usage.minutes_remaining,
        ),
        videos_created=user.videos_created,
        videos_remaining=overview.videos_remaining,
        email_verified=user.email_verified_at is not None,
    )
