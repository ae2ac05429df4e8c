"""Fidelity on every result: stored on the job; an absurd output is refused and nothing charged."""

from __future__ import annotations

import pytest
from prometheus_client import REGISTRY
from sqlalchemy import func, select

from media.clips import BLACK_START, CFR, PHONE_PORTRAIT, ClipLibrary, ClipSpec
from media.fake_enhancers import BrokenEnhancer
from video_enhancer.config import Settings
from video_enhancer.enhancers.lanczos import LanczosEnhancer
from video_enhancer.models import Job, JobStatus, UsageEntry
from video_enhancer.storage.base import Storage
from video_enhancer.worker.runner import JobRunner, Outcome
from worker.support import Factory, claim, queue_file


def _rejected(enhancer: str) -> float:
    value = REGISTRY.get_sample_value("ve_outputs_rejected_total", {"enhancer": enhancer})
    return value or 0.0


def _job(factory: Factory, job: Job) -> Job:
    with factory() as session:
        fresh = session.get(Job, job.id)
        assert fresh is not None
        session.expunge(fresh)
        return fresh


@pytest.mark.parametrize("spec", [CFR, BLACK_START, PHONE_PORTRAIT], ids=lambda s: s.name)
def test_lanczos_results_carry_their_fidelity(
    session_factory: Factory, storage: Storage, worker_settings: Settings, clips: ClipLibrary, spec: ClipSpec
) -> None:
    job = queue_file(session_factory, storage, worker_settings, clips.get(spec).path)
    outcome = JobRunner(worker_settings, session_factory, storage, LanczosEnhancer()).run(
        claim(session_factory)
    )
    assert outcome.outcome == Outcome.COMPLETED
    done = _job(session_factory, job)
    assert done.quality is not None
    assert done.quality["psnrDb"] > 25 and done.quality["ssim"] > 0.9
    assert done.quality["sampledFrames"] == worker_settings.output_quality_samples


@pytest.mark.parametrize("spec", [CFR, BLACK_START], ids=lambda s: s.name)
@pytest.mark.parametrize("mode", ["noise", "swap", "black"])
def test_a_broken_enhancer_is_refused_and_nothing_charged(
    session_factory: Factory,
    storage: Storage,
    worker_settings: Settings,
    clips: ClipLibrary,
    mode: str,
    spec: ClipSpec,
) -> None:
    job = queue_file(session_factory, storage, worker_settings, clips.get(spec).path)
    before = _rejected("broken")
    outcome = JobRunner(worker_settings, session_factory, storage, BrokenEnhancer(mode)).run(
        claim(session_factory)
    )
    assert (outcome.outcome, outcome.error_code) == (Outcome.FAILED, "OUTPUT_REJECTED")
    failed = _job(session_factory, job)
    assert failed.status == JobStatus.FAILED and failed.minutes_charged is None and failed.minutes_held == 0
    assert failed.error_message and "not delivered" in failed.error_message
    with session_factory() as session:
        assert session.scalar(select(func.count(UsageEntry.id)).where(UsageEntry.job_id == job.id)) == 0
    assert _rejected("broken") == before + 1


def test_the_thresholds_are_settings(
    session_factory: Factory, storage: Storage, worker_settings: Settings, clips: ClipLibrary
) -> None:
    strict = worker_settings.model_copy(update={"output_min_psnr_db": 99.0})
    queue_file(session_factory, storage, strict, clips.get(CFR).path)
    outcome = JobRunner(strict, session_factory, storage, LanczosEnhancer()).run(claim(session_factory))
    assert outcome.error_code == "OUTPUT_REJECTED"
