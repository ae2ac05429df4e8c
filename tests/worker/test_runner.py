"""JobRunner on real tiny clips, on both databases: success, bad files, limits, cancel, hand-back."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from sqlalchemy import select

from media.clips import CFR, LONG, ClipLibrary, empty_file, text_file, truncated_copy, unknown_codec_file
from video_enhancer.billing.service import minutes_held
from video_enhancer.config import Settings
from video_enhancer.enhancers.lanczos import LanczosEnhancer
from video_enhancer.errors import StorageUnavailable
from video_enhancer.jobs.lifecycle import request_cancel
from video_enhancer.media import nvdec
from video_enhancer.media.encode import NVENC, encoder_opens
from video_enhancer.media.nvdec import HardwareDecode
from video_enhancer.media.probe import probe
from video_enhancer.models import Job, JobStatus, Plan, UsageEntry, User, Video
from video_enhancer.storage.base import Storage
from video_enhancer.storage.keys import segments_prefix
from video_enhancer.worker.runner import JobRunner, Outcome
from worker.support import Factory, HookedLanczos, claim, queue_file


def _runner(
    settings: Settings,
    factory: Factory,
    storage: Storage,
    enhancer: object | None = None,
    shutdown: threading.Event | None = None,
) -> JobRunner:
    return JobRunner(settings, factory, storage, enhancer or LanczosEnhancer(), shutdown=shutdown)  # type: ignore[arg-type]


def _rows(factory: Factory, job: Job) -> tuple[Job, Video, User, int]:
    with factory() as s:
        fresh, video, user = s.get(Job, job.id), s.get(Video, job.video_id), s.get(User, job.user_id)
        assert fresh is not None and video is not None and user is not None
        ledger = len(s.scalars(select(UsageEntry).where(UsageEntry.job_id == job.id)).all())
        return fresh, video, user, ledger


def test_success_completes_charges_once_and_stores_verified_output(
    session_factory: Factory, storage: Storage, worker_settings: Settings, clips: ClipLibrary, tmp_path: Path
) -> None:
    clip = clips.get(CFR)
    job = queue_file(session_factory, storage, worker_settings, clip.path, minutes_held=1)
    outcome = _runner(worker_settings, session_factory, storage).run(claim(session_factory))

    assert outcome.outcome == Outcome.COMPLETED and outcome.minutes_charged == 1
    fresh, video, user, ledger = _rows(session_factory, job)
    assert fresh.status == JobStatus.COMPLETED and fresh.minutes_charged == 1 and ledger == 1
    assert user.minutes_used_this_month == 1 and fresh.minutes_held == 0
    assert fresh.progress_percent == 100 and fresh.completed_at is not None
    assert fresh.enhancer == "lanczos"
    assert fresh.result is not None and fresh.result["classicalFallback"] is True
    assert (fresh.result["outputWidth"], fresh.result["outputHeight"]) == (384, 256)  # 4x, under PRO's 1080
    assert fresh.frames_total == clip.frames
    assert video.duration_seconds == pytest.approx(clip.duration_s, abs=0.01)
    assert video.resolution == "96x64" and video.frame_count == clip.frames
    assert video.output_storage_path == f"users/{job.user_id}/videos/{job.video_id}/enhanced-{job.id}.mp4"
    assert video.output_resolution == "384x256" and video.output_size_bytes == storage.size(
        "enhanced", video.output_storage_path
    )

    local = tmp_path / "out.mp4"
    storage.download_to("enhanced", video.output_storage_path, local)
    out = probe(local)
    assert out.video.frame_count == clip.frames and (out.video.width, out.video.height) == (384, 256)
    assert out.has_audio
    assert storage.list_keys("enhanced", segments_prefix(job.id)) == []  # checkpoints dropped
    assert not (worker_settings.worker_scratch_dir / str(job.id)).exists()


def test_output_height_follows_the_plan(
    session_factory: Factory, storage: Storage, worker_settings: Settings, clips: ClipLibrary
) -> None:
    job = queue_file(session_factory, storage, worker_settings, clips.get(CFR).path, plan=Plan.FREE)
    with session_factory.begin() as s:
        row = s.get(Job, job.id)
        assert row is not None
        row.max_output_height = 128  # a tiny cap keeps the test fast; the rule is the same as 720
    _runner(worker_settings, session_factory, storage).run(claim(session_factory))
    _fresh, video, _user, _ledger = _rows(session_factory, job)
    assert video.output_resolution == "192x128"


def test_speed_priority_without_a_gpu_decodes_and_encodes_on_the_cpu(
    session_factory: Factory,
    storage: Storage,
    worker_settings: Settings,
    clips: ClipLibrary,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Asked for speed, the job tries NVDEC and NVENC; on this machine both fall back to the CPU."""
    decode_record = HardwareDecode()
    monkeypatch.setattr(nvdec, "HARDWARE_DECODE", decode_record)
    settings = worker_settings.model_copy(update={"encoder_priority": "speed", "encoder_preset": "ultrafast"})
    clip = clips.get(CFR)
    job = queue_file(session_factory, storage, settings, clip.path, plan=Plan.FREE)
    with session_factory.begin() as s:
        row = s.get(Job, job.id)
        assert row is not None
        row.max_output_height = 128

    outcome = _runner(settings, session_factory, storage).run(claim(session_factory))

    assert outcome.outcome == Outcome.COMPLETED
    _fresh, video, _user, _ledger = _rows(session_factory, job)
    assert video.output_storage_path is not None
    local = tmp_path / "out.mp4"
    storage.download_to("enhanced", video.output_storage_path, local)
    assert probe(local).video.frame_count == clip.frames
    if not encoder_opens(NVENC):  # this machine: no NVIDIA GPU
        assert not decode_record.usable  # the job tried NVDEC; the process now decodes on the CPU
        assert b"x264 - core" in local.read_bytes()  # libx264 signs its stream; NVENC does not


BAD_FILES = {
    "truncated": (lambda clips, d: truncated_copy(clips.get(CFR), d), "INVALID_VIDEO"),
    "text": (lambda _clips, d: text_file(d), "INVALID_VIDEO"),
    "empty": (lambda _clips, d: empty_file(d), "INVALID_VIDEO"),
    "unknown codec": (lambda _clips, d: unknown_codec_file(d), "UNSUPPORTED_CODEC"),
}


@pytest.mark.parametrize("kind", list(BAD_FILES))
def test_bad_file_fails_with_code_and_worker_goes_on(
    kind: str,
    session_factory: Factory,
    storage: Storage,
    worker_settings: Settings,
    clips: ClipLibrary,
    tmp_path: Path,
) -> None:
    make_file, code = BAD_FILES[kind]
    bad = queue_file(session_factory, storage, worker_settings, make_file(clips, tmp_path), minutes_held=1)
    runner = _runner(worker_settings, session_factory, storage)
    outcome = runner.run(claim(session_factory))

    assert outcome.outcome == Outcome.FAILED and outcome.error_code == code
    fresh, _video, user, ledger = _rows(session_factory, bad)
    assert fresh.status == JobStatus.FAILED and fresh.error_code == code
    assert fresh.error_message and "video" in fresh.error_message.lower()
    assert fresh.minutes_charged is None and ledger == 0 and user.minutes_used_this_month == 0
    with session_factory() as s:
        assert minutes_held(s, bad.user_id) == 0

    good = queue_file(session_factory, storage, worker_settings, clips.get(CFR).path)
    assert runner.run(claim(session_factory)).outcome == Outcome.COMPLETED  # the same runner goes on
    assert _rows(session_factory, good)[0].status == JobStatus.COMPLETED


def test_real_duration_over_plan_limit_fails_without_charge(
    session_factory: Factory, storage: Storage, worker_settings: Settings, clips: ClipLibrary
) -> None:
    clip = clips.get(LONG)  # 6 s, claimed as 0.5 s
    job = queue_file(
        session_factory, storage, worker_settings, clip.path, plan=Plan.FREE, claimed_seconds=0.5
    )
    with session_factory.begin() as s:
        row = s.get(Job, job.id)
        assert row is not None
        row.max_duration_seconds = 2
    outcome = _runner(worker_settings, session_factory, storage).run(claim(session_factory))

    assert outcome.outcome == Outcome.FAILED and outcome.error_code == "DURATION_EXCEEDED"
    fresh, video, user, ledger = _rows(session_factory, job)
    assert fresh.status == JobStatus.FAILED and fresh.error_code == "DURATION_EXCEEDED"
    assert "6.0 seconds" in (fresh.error_message or "")
    assert video.duration_seconds == pytest.approx(6.0, abs=0.01)  # the measured, not the claimed
    assert ledger == 0 and user.minutes_used_this_month == 0 and fresh.minutes_held == 0


def test_cancel_mid_job_stops_at_checkpoint(
    session_factory: Factory, storage: Storage, worker_settings: Settings, clips: ClipLibrary
) -> None:
    job = queue_file(session_factory, storage, worker_settings, clips.get(LONG).path, minutes_held=1)

    def cancel_on_frame(n: int) -> None:
        if n == 2:
            with session_factory.begin() as s:
                row = s.get(Job, job.id)
                assert row is not None
                request_cancel(s, row)

    enhancer = HookedLanczos(cancel_on_frame)
    outcome = _runner(worker_settings, session_factory, storage, enhancer).run(claim(session_factory))

    assert outcome.outcome == Outcome.CANCELED
    fresh, video, _user, ledger = _rows(session_factory, job)
    assert fresh.status == JobStatus.CANCELED and fresh.minutes_held == 0 and ledger == 0
    assert video.output_storage_path is None
    assert enhancer.frames_seen < clips.get(LONG).frames  # it stopped early


def test_shutdown_hands_job_back_and_next_run_resumes(
    session_factory: Factory, storage: Storage, worker_settings: Settings, clips: ClipLibrary, tmp_path: Path
) -> None:
    clip = clips.get(LONG)  # 48 frames at 8 fps: 12 segments of 0.5 s
    job = queue_file(session_factory, storage, worker_settings, clip.path)
    shutdown = threading.Event()
    first = HookedLanczos(lambda n: shutdown.set() if n == 10 else None)
    outcome = _runner(worker_settings, session_factory, storage, first, shutdown).run(
        claim(session_factory, "w1")
    )

    assert outcome.outcome == Outcome.HANDED_BACK
    fresh, *_ = _rows(session_factory, job)
    assert fresh.status == JobStatus.QUEUED and fresh.attempts == 0 and fresh.lease_owner is None
    saved = [k for k in storage.list_keys("enhanced", segments_prefix(job.id)) if k.endswith(".json")]
    assert saved  # finished segments are kept

    second = HookedLanczos()
    resumed = _runner(worker_settings, session_factory, storage, second).run(claim(session_factory, "w2"))
    assert resumed.outcome == Outcome.COMPLETED and resumed.resumed_segments == len(saved)
    assert second.frames_seen == clip.frames - 4 * len(saved)  # finished segments were not redone
    fresh, video, user, ledger = _rows(session_factory, job)
    assert ledger == 1 and user.minutes_used_this_month == 1 and fresh.attempts == 1
    assert fresh.result is not None and fresh.result["resumedSegments"] == resumed.resumed_segments
    local = tmp_path / "out.mp4"
    storage.download_to("enhanced", video.output_storage_path or "", local)
    assert probe(local).video.frame_count == clip.frames


class _FlakyStorage:
    """Delegates to real storage but fails the chosen operation."""

    def __init__(self, inner: Storage, fail: str, error: Exception) -> None:
        self._inner, self._fail, self._error = inner, fail, error

    def __getattr__(self, name: str) -> object:
        if name == self._fail:

            def failing(*_a: object, **_k: object) -> None:
                raise self._error

            return failing
        return getattr(self._inner, name)


def test_storage_outage_is_retried_then_fails_at_max_attempts(
    session_factory: Factory, storage: Storage, worker_settings: Settings, clips: ClipLibrary
) -> None:
    job = queue_file(session_factory, storage, worker_settings, clips.get(CFR).path, max_attempts=2)
    flaky = _FlakyStorage(storage, "download_to", StorageUnavailable())
    runner = _runner(worker_settings, session_factory, flaky)  # type: ignore[arg-type]

    first = runner.run(claim(session_factory))
    assert first.outcome == Outcome.RETRYING and first.error_code == "STORAGE_UNAVAILABLE"
    fresh, *_ = _rows(session_factory, job)
    assert fresh.status == JobStatus.QUEUED and fresh.run_after is not None
    with session_factory.begin() as s:  # skip the back-off wait
        row = s.get(Job, job.id)
        assert row is not None
        row.run_after = None
    second = runner.run(claim(session_factory))
    assert second.outcome == Outcome.FAILED
    fresh, _video, user, ledger = _rows(session_factory, job)
    assert fresh.status == JobStatus.FAILED and fresh.error_code == "STORAGE_UNAVAILABLE"
    assert fresh.minutes_held == 0 and ledger == 0 and user.minutes_used_this_month == 0


def test_unexpected_error_is_retried(
    session_factory: Factory, storage: Storage, worker_settings: Settings, clips: ClipLibrary
) -> None:
    job = queue_file(session_factory, storage, worker_settings, clips.get(CFR).path)
    flaky = _FlakyStorage(storage, "put_file", RuntimeError("disk on fire"))
    outcome = _runner(worker_settings, session_factory, flaky).run(claim(session_factory))  # type: ignore[arg-type]
    assert outcome.outcome == Outcome.RETRYING and outcome.error_code == "INTERNAL_ERROR"
    fresh, *_ = _rows(session_factory, job)
    assert fresh.status == JobStatus.QUEUED and fresh.attempts == 1 and fresh.minutes_charged is None


def test_worker_that_lost_its_lease_charges_nothing(
    session_factory: Factory, storage: Storage, worker_settings: Settings, clips: ClipLibrary
) -> None:
    from datetime import timedelta

    from video_enhancer.jobs.lifecycle import requeue_expired_leases
    from video_enhancer.models import utcnow

    job = queue_file(session_factory, storage, worker_settings, clips.get(CFR).path)
    stale = claim(session_factory, "old-worker", lease_seconds=1)
    requeue_expired_leases(session_factory, now=utcnow() + timedelta(seconds=5))
    claim(session_factory, "new-worker")
    outcome = _runner(worker_settings, session_factory, storage).run(stale)
    assert outcome.outcome == Outcome.LOST
    fresh, _video, _user, ledger = _rows(session_factory, job)
    assert fresh.status == JobStatus.PROCESSING and fresh.lease_owner == "new-worker" and ledger == 0
