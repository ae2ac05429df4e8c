"""A video alone on a batching worker runs as lanes; a lost lease mid-way resumes the missing ones."""

from __future__ import annotations

import threading
import time
from datetime import timedelta
from pathlib import Path

from media.clips import LONG, ClipLibrary
from media.fake_enhancers import ParallelCountingEnhancer
from video_enhancer.config import Settings
from video_enhancer.jobs.lifecycle import requeue_expired_leases
from video_enhancer.media.probe import probe
from video_enhancer.models import Job, JobStatus, Video, utcnow
from video_enhancer.storage.base import Storage
from video_enhancer.storage.keys import segments_prefix
from video_enhancer.worker.runner import JobRunner, Outcome
from worker.support import Factory, claim, queue_file


def _saved(storage: Storage, job: Job) -> list[str]:
    return [k for k in storage.list_keys("enhanced", segments_prefix(job.id)) if k.endswith(".json")]


def _lose_lease_once_enhancing(factory: Factory, enhancer: ParallelCountingEnhancer) -> threading.Thread:
    """What another worker's maintenance does to a lease that stopped being extended."""

    def watch() -> None:
        deadline = time.monotonic() + 60
        while not enhancer.frames_enhanced and time.monotonic() < deadline:
            time.sleep(0.02)
        requeue_expired_leases(factory, now=utcnow() + timedelta(hours=1))

    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    return thread


def test_a_split_job_that_lost_its_lease_is_finished_by_the_next_worker_without_redoing_segments(
    session_factory: Factory, storage: Storage, worker_settings: Settings, clips: ClipLibrary, tmp_path: Path
) -> None:
    settings = worker_settings.model_copy(
        update={
            "segment_seconds": 1.0,  # LONG: six segments of 8 frames
            "job_lease_seconds": 1.5,
            "worker_gpu_streams": 3,
            "segment_warmup_frames": 3,
            "encoder_preset": "ultrafast",
        }
    )
    clip = clips.get(LONG)
    job = queue_file(session_factory, storage, settings, clip.path)
    first = ParallelCountingEnhancer(streams=3, delay_s=0.2)
    watcher = _lose_lease_once_enhancing(session_factory, first)
    outcome = JobRunner(settings, session_factory, storage, first).run(claim(session_factory, "w1", 1.5))  # type: ignore[arg-type]
    watcher.join()
    assert outcome.outcome == Outcome.LOST
    assert len(first.opened_at) == 2  # one video, three lanes: two of them started cold
    saved = len(_saved(storage, job))
    assert saved == 3  # every lane stopped after its first segment (1.6 s; the loss is seen in 0.5 s)

    second = ParallelCountingEnhancer(streams=3)
    resumed = JobRunner(settings, session_factory, storage, second).run(claim(session_factory, "w2"))  # type: ignore[arg-type]
    assert resumed.outcome == Outcome.COMPLETED and resumed.resumed_segments == saved
    assert second.frames_enhanced == 8 * (6 - saved) + 3 * len(second.opened_at)  # nothing redone
    with session_factory() as session:
        fresh, video = session.get(Job, job.id), session.get(Video, job.video_id)
        assert fresh is not None and fresh.status == JobStatus.COMPLETED and video is not None
        assert fresh.result is not None and fresh.result["resumedSegments"] == saved
        output_key = video.output_storage_path
    storage.download_to("enhanced", output_key or "", tmp_path / "out.mp4")
    assert probe(tmp_path / "out.mp4").video.frame_count == clip.frames
