"""/enhancers: the enhancer catalogue (public: it describes the service, not a user's data)."""

from __future__ import annotations

from fastapi import APIRouter

from video_enhancer.api.deps import SessionDep, SettingsDep
from video_enhancer.api.schemas import error_responses
from video_enhancer.catalogue import service
from video_enhancer.catalogue.schemas import EnhancerCatalogue, EnhancerOut
from video_enhancer.models import utcnow

router = APIRouter()


@router.get(
    "",
    operation_id="listEnhancers",
    response_model=EnhancerCatalogue,
    responses=error_responses(),
    summary="The enhancers this deployment offers, the plans that may use them and live availability",
)
def list_enhancers(session: SessionDep, settings: SettingsDep) -> EnhancerCatalogue:
    entries = service.catalogue(session, settings, utcnow())
    return EnhancerCatalogue(items=[EnhancerOut.from_entry(entry) for entry in entries])
