"""The runner refuses, before any enhancement and without charging, what the media limits and
the measured duration rule out (a lone frame with long audio, 1000 fps, huge pictures), and
charges interlaced video by its duration while enhancing one frame per field."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from media.corpus import BY_NAME
from media.limit_clips import fast_clip, one_frame_with_long_audio
from video_enhancer.config import Settings
from video_enhancer.enhancers.lanczos import LanczosEnhancer
from video_enhancer.models import Job, JobStatus, Plan, UsageEntry, User, Video
from video_enhancer.storage.base import Storage
from video_enhancer.worker.runner import JobRunner, Outcome
from worker.support import Factory, claim, queue_file


def _fails_uncharged(factory: Factory, storage: Storage, settings: Settings, source: Path, code: str) -> None:
    job = queue_file(factory, storage, settings, source, plan=Plan.FREE, claimed_seconds=1)
    with factory.begin() as s:
        row = s.get(Job, job.id)
        assert row is not None
        row.max_duration_seconds = 60
    outcome = JobRunner(settings, factory, storage, LanczosEnhancer()).run(claim(factory))
    assert outcome.outcome == Outcome.FAILED and outcome.error_code == code
    with factory() as s:
        fresh, user = s.get(Job, job.id), s.get(User, job.user_id)
        assert fresh is not None and user is not None
        assert fresh.status == JobStatus.FAILED and fresh.error_code == code
        assert fresh.frames_done in (None, 0)  # nothing was enhanced
        assert not s.scalars(select(UsageEntry).where(UsageEntry.job_id == job.id)).all()
        assert user.minutes_used_this_month == 0


@pytest.mark.parametrize("frame_seconds", [0.04, 600])
def test_one_frame_with_ten_minutes_of_audio_exceeds_a_one_minute_plan(
    session_factory: Factory,
    storage: Storage,
    worker_settings: Settings,
    tmp_path: Path,
    frame_seconds: float,
) -> None:
    source = one_frame_with_long_audio(tmp_path, frame_seconds)
    _fails_uncharged(session_factory, storage, worker_settings, source, "DURATION_EXCEEDED")


def test_a_thousand_frames_per_second_is_refused(
    session_factory: Factory, storage: Storage, worker_settings: Settings, tmp_path: Path
) -> None:
    source = fast_clip(tmp_path, 1000, 2)
    _fails_uncharged(session_factory, storage, worker_settings, source, "FRAME_RATE_TOO_HIGH")


def test_limits_follow_the_settings(
    session_factory: Factory, storage: Storage, worker_settings: Settings, tmp_path: Path
) -> None:
    source = fast_clip(tmp_path, 30, 1, size="96x64")
    settings = worker_settings.model_copy(update={"media_max_pixels": 96 * 64 - 1})
    _fails_uncharged(session_factory, storage, settings, source, "FRAME_TOO_LARGE")


def test_interlaced_dv_job_counts_fields_and_is_charged_by_duration(
    session_factory: Factory, storage: Storage, worker_settings: Settings, tmp_path: Path
) -> None:
    source = BY_NAME["dv-ntsc-avi-pcm"].make(tmp_path)  # 15 frames, 0.5 s, 720x480 at 8:9, PCM
    job = queue_file(session_factory, storage, worker_settings, source, claimed_seconds=1)
    outcome = JobRunner(worker_settings, session_factory, storage, LanczosEnhancer()).run(
        claim(session_factory)
    )
    assert outcome.outcome == Outcome.COMPLETED and outcome.minutes_charged == 1, outcome
    with session_factory() as s:
        fresh, video = s.get(Job, job.id), s.get(Video, job.video_id)
        assert fresh is not None and video is not None and fresh.result is not None
        assert fresh.result["deinterlaced"] == "field" and fresh.result["frames"] == 30
        assert fresh.frames_total == 30 and video.frame_count == 30
        assert video.resolution == "640x480"  # the display size
        assert video.duration_seconds == pytest.approx(0.5, abs=0.02)
        assert (fresh.result["outputWidth"], fresh.result["outputHeight"]) == (1440, 1080)
