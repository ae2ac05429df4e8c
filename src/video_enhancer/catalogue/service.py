"""The catalogue: every registered enhancer, the plans that may use it and what live workers report.

An enhancer is `available` while some worker's heartbeat for it is younger than the live window;
its speed is the best `frames_per_second_720p` among those workers (None until one has finished
a job with it).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from sqlalchemy.orm import Session

from video_enhancer.catalogue import repository
from video_enhancer.config import Settings
from video_enhancer.enhancers.registry import ENHANCERS, EnhancerSpec
from video_enhancer.models import Job, JobStatus, Plan

OUTPUT_720P_PIXELS = 1280 * 720
ALL_PLANS = (Plan.FREE, Plan.CREATOR, Plan.PRO)
PAID_PLANS = (Plan.CREATOR, Plan.PRO)
# The deep models cost far more GPU time per minute of video than the compact ones.
PLANS_BY_ENHANCER: dict[str, tuple[Plan, ...]] = {
    "lanczos": ALL_PLANS,
    "realesr-animevideov3": ALL_PLANS,
    "realesr-general-x4v3": ALL_PLANS,
    "realesrgan-x4plus": PAID_PLANS,
    "stream-diffvsr": (Plan.PRO,),
}


@dataclass(frozen=True, slots=True)
class CatalogueEntry:
    spec: EnhancerSpec
    plans: tuple[Plan, ...]
    available: bool
    frames_per_second: float | None


def plans_for(enhancer: str) -> tuple[Plan, ...]:
    return PLANS_BY_ENHANCER.get(enhancer, (Plan.PRO,))


def live_window(settings: Settings) -> timedelta:
    """Three missed heartbeats: the maintenance loop runs at least every half lease and 30 s."""
    return timedelta(seconds=3 * max(0.5, min(30.0, settings.job_lease_seconds / 2)))


def catalogue(session: Session, settings: Settings, now: datetime) -> list[CatalogueEntry]:
    rows = repository.live_rows(session, now - live_window(settings))
    entries = []
    for spec in ENHANCERS.values():
        mine = [row for row in rows if row.enhancer == spec.name]
        speeds = [row.frames_per_second_720p for row in mine if row.frames_per_second_720p is not None]
        entries.append(CatalogueEntry(spec, plans_for(spec.name), bool(mine), max(speeds, default=None)))
    return entries


def offered_enhancers(session: Session, settings: Settings, now: datetime) -> set[str]:
    return {row.enhancer for row in repository.live_rows(session, now - live_window(settings))}


def waiting_for(session: Session, settings: Settings, job: Job, now: datetime) -> Literal["enhancer"] | None:
    """ "enhancer" while the job is QUEUED and no live worker has its enhancer loaded."""
    if job.status != JobStatus.QUEUED or job.enhancer is None:
        return None
    return None if job.enhancer in offered_enhancers(session, settings, now) else "enhancer"


def speed_at_720p(job: Job) -> float | None:
    """The job's measured frames per second, scaled to 720p output by pixel count."""
    result = job.result or {}
    width, height = result.get("outputWidth"), result.get("outputHeight")
    if not job.fps or not width or not height:
        return None
    return round(job.fps * (width * height) / OUTPUT_720P_PIXELS, 3)
