"""Admin HTTP endpoints. Non-admin users get 404: the routes do not reveal that they exist."""

from __future__ import annotations

from fastapi import APIRouter

from video_enhancer.admin.schemas import AdminStatsOut
from video_enhancer.admin.stats import compute_stats
from video_enhancer.api.deps import AdminUser, SessionDep
from video_enhancer.api.schemas import error_responses

router = APIRouter()


@router.get(
    "/admin/stats",
    operation_id="getAdminStats",
    response_model=AdminStatsOut,
    responses=error_responses(401, 404),
    summary="Job, queue and billing statistics (admins only)",
)
def admin_stats(_admin: AdminUser, session: SessionDep) -> AdminStatsOut:
    """Jobs per status, average processing time, error rate, queue depth and charged minutes."""
    return AdminStatsOut.from_stats(compute_stats(session))
