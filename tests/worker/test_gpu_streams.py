"""VE_WORKER_GPU_STREAMS: one worker runs several stream-diffvsr jobs at once through one engine."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch
from sqlalchemy import Engine

from media.clips import ClipLibrary, ClipSpec
from stream_diffvsr.testing import write_random_raft_weights, write_tiny_checkpoint
from video_enhancer.config import Settings
from video_enhancer.enhancers.stream_diffvsr import StreamDiffVSREnhancer
from video_enhancer.models import Job, JobStatus
from video_enhancer.storage.base import Storage
from video_enhancer.worker.process import WorkerProcess, load_enhancer
from worker.support import Factory, queue_file

CLIP = ClipSpec(name="gpu-streams", width=32, height=32, fps=4, seconds=1.0)


@pytest.fixture(autouse=True)
def one_cpu_thread() -> Iterator[None]:
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


def status(factory: Factory, job: Job) -> JobStatus:
    with factory() as session:
        fresh = session.get(Job, job.id)
        assert fresh is not None
        return fresh.status


def test_gpu_streams_run_jobs_together_and_complete_them(
    session_factory: Factory,
    engine: Engine,
    storage: Storage,
    worker_settings: Settings,
    clips: ClipLibrary,
    tmp_path: Path,
) -> None:
    settings = worker_settings.model_copy(
        update={
            "enhancer": "stream-diffvsr",
            "model_path": write_tiny_checkpoint(tmp_path / "model"),
            "flow_weights": write_random_raft_weights(tmp_path / "raft.pth"),
            "model_device": "cpu",
            "model_dtype": "float32",
            "encoder_preset": "ultrafast",
            "worker_gpu_streams": 2,
            # A tiny model with random weights makes noise: the fidelity floor would refuse it.
            "output_min_psnr_db": 0.0,
            "output_min_ssim": -1.0,
        }
    )
    jobs = [queue_file(session_factory, storage, settings, clips.get(CLIP).path) for _ in range(2)]
    enhancer = load_enhancer(settings)
    assert isinstance(enhancer, StreamDiffVSREnhancer) and enhancer.engine is not None
    worker = WorkerProcess(
        settings, concurrency=settings.job_slots, engine=engine, storage=storage, enhancer=enhancer
    )
    thread = threading.Thread(target=worker.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 240
        while any(status(session_factory, job) != JobStatus.COMPLETED for job in jobs):
            statuses = [status(session_factory, job) for job in jobs]
            assert time.monotonic() < deadline and JobStatus.FAILED not in statuses, statuses
            time.sleep(0.1)
    finally:  # a failure must not leave a worker claiming the next tests' jobs
        worker.stop()
        thread.join(timeout=60)
        enhancer.engine.close()
    assert worker.concurrency == 2 and worker.jobs_run == 2
    assert 2 in enhancer.engine.batch_sizes  # the two jobs shared forward passes
