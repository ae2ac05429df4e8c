"""The worker process for real: the CLI entry point, SIGTERM hand-back, SIGKILL and resume."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import Engine, select

from media.clips import CFR, LONG, ClipLibrary
from video_enhancer.config import Settings
from video_enhancer.media.probe import probe
from video_enhancer.models import Job, JobStatus, UsageEntry, Video
from video_enhancer.storage.base import Storage
from video_enhancer.storage.keys import segments_prefix
from video_enhancer.worker.process import WorkerProcess
from worker.support import Factory, HookedLanczos, queue_file

ROOT = Path(__file__).resolve().parents[2]
SLOW_WORKER = Path(__file__).with_name("slow_worker.py")


def _env(settings: Settings, **extra: str) -> dict[str, str]:
    values = {
        "VE_ENV": "test",
        "VE_DATABASE_URL": settings.database_url,
        "VE_STORAGE_ROOT": str(settings.storage_root),
        "VE_WORKER_SCRATCH_DIR": str(settings.worker_scratch_dir),
        "VE_SEGMENT_SECONDS": str(settings.segment_seconds),
        "VE_ENCODER_PRESET": "ultrafast",
        "VE_JOB_LEASE_SECONDS": str(settings.job_lease_seconds),
        "VE_QUEUE_POLL_SECONDS": "0.2",
        "VE_WORKER_METRICS_PORT": "-1",
        "VE_ENHANCER": "lanczos",
    }
    return {**os.environ, **values, **extra}


def _wait_for(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


def _answers(url: str) -> bool:
    import httpx

    try:
        return httpx.get(url, timeout=5).status_code == 200
    except httpx.TransportError:
        return False


def _job(factory: Factory, job: Job) -> Job:
    with factory() as s:
        fresh = s.get(Job, job.id)
        assert fresh is not None
        return fresh


def _segments_saved(storage: Storage, job: Job) -> int:
    return sum(k.endswith(".json") for k in storage.list_keys("enhanced", segments_prefix(job.id)))


@contextmanager
def _subprocess(argv: list[str], env: dict[str, str]) -> Iterator[subprocess.Popen[bytes]]:
    proc = subprocess.Popen(argv, env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=30)


def test_cli_worker_completes_a_job_and_stops_on_sigterm(
    session_factory: Factory, storage: Storage, worker_settings: Settings, clips: ClipLibrary
) -> None:
    job = queue_file(session_factory, storage, worker_settings, clips.get(CFR).path)
    argv = [sys.executable, "-m", "video_enhancer.cli", "worker", "--concurrency", "1"]
    with _subprocess(argv, _env(worker_settings)) as proc:
        _wait_for(lambda: _job(session_factory, job).status == JobStatus.COMPLETED, 90, "the job to complete")
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
        logs = proc.stdout.read().decode() if proc.stdout else ""
    assert _job(session_factory, job).minutes_charged == 1
    assert f'"job_id": "{job.id}"' in logs and job.request_id and job.request_id in logs  # log context


def test_sigterm_mid_job_hands_the_job_back(
    session_factory: Factory, storage: Storage, worker_settings: Settings, clips: ClipLibrary
) -> None:
    job = queue_file(session_factory, storage, worker_settings, clips.get(LONG).path)
    env = _env(worker_settings, SLOW_WORKER_DELAY_S="0.15")
    with _subprocess([sys.executable, str(SLOW_WORKER)], env) as proc:
        _wait_for(lambda: _segments_saved(storage, job) >= 1, 90, "the first segment")
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == 0
    fresh = _job(session_factory, job)
    assert fresh.status == JobStatus.QUEUED and fresh.attempts == 0 and fresh.lease_owner is None
    assert fresh.minutes_charged is None
    assert 1 <= _segments_saved(storage, job) < 12  # it stopped after a segment, well before the end


def _run_worker_in_thread(worker: WorkerProcess) -> threading.Thread:
    thread = threading.Thread(target=worker.run, daemon=True)
    thread.start()
    return thread


def test_killed_worker_job_resumes_elsewhere_with_one_charge(
    session_factory: Factory,
    engine: Engine,
    storage: Storage,
    worker_settings: Settings,
    clips: ClipLibrary,
    tmp_path: Path,
) -> None:
    clip = clips.get(LONG)  # 48 frames, 12 segments of 4 frames
    settings = worker_settings.model_copy(update={"job_lease_seconds": 2})
    job = queue_file(session_factory, storage, settings, clip.path)
    env = _env(settings, SLOW_WORKER_DELAY_S="0.15", VE_WORKER_ID="doomed")
    with _subprocess([sys.executable, str(SLOW_WORKER)], env) as proc:
        _wait_for(lambda: _segments_saved(storage, job) >= 1, 90, "the first segment")
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    killed = _job(session_factory, job)
    assert killed.status == JobStatus.PROCESSING and (killed.lease_owner or "").startswith("doomed")
    saved = _segments_saved(storage, job)

    enhancer = HookedLanczos()
    survivor = WorkerProcess(
        settings, engine=engine, storage=storage, enhancer=enhancer, worker_id="survivor"
    )
    thread = _run_worker_in_thread(survivor)
    try:
        _wait_for(lambda: _job(session_factory, job).status == JobStatus.COMPLETED, 90, "the resumed job")
    finally:
        survivor.stop()
        thread.join(timeout=60)

    fresh = _job(session_factory, job)
    assert fresh.attempts == 2 and fresh.minutes_charged == 1
    assert fresh.result is not None and fresh.result["resumedSegments"] >= saved >= 1
    assert enhancer.frames_seen == clip.frames - 4 * fresh.result["resumedSegments"]
    with session_factory() as s:
        assert len(s.scalars(select(UsageEntry).where(UsageEntry.job_id == job.id)).all()) == 1
        video = s.get(Video, job.video_id)
        assert video is not None and video.output_storage_path
    local = tmp_path / "out.mp4"
    storage.download_to("enhanced", video.output_storage_path, local)
    out = probe(local)
    assert out.video.frame_count == clip.frames
    assert abs(out.duration_s - clip.duration_s) < 1 / 8 + 1e-6


def test_worker_process_stops_promptly_when_idle(
    engine: Engine, storage: Storage, worker_settings: Settings
) -> None:
    worker = WorkerProcess(
        worker_settings, concurrency=2, engine=engine, storage=storage, enhancer=HookedLanczos()
    )
    thread = _run_worker_in_thread(worker)
    _wait_for(lambda: worker.ready, 30, "the worker to be ready")
    began = time.monotonic()
    worker.stop()
    thread.join(timeout=30)
    assert not thread.is_alive() and time.monotonic() - began < 5
    assert not worker.ready


def test_a_starting_worker_removes_job_folders_left_by_killed_workers(
    engine: Engine, storage: Storage, worker_settings: Settings
) -> None:
    left = worker_settings.worker_scratch_dir / "job-of-a-killed-worker"
    left.mkdir(parents=True)
    (left / ".lock").touch()  # its flock died with the process
    (left / "source.mp4").write_bytes(b"x" * 4096)
    worker = WorkerProcess(worker_settings, engine=engine, storage=storage, enhancer=HookedLanczos())
    thread = _run_worker_in_thread(worker)
    try:
        _wait_for(lambda: worker.ready, 30, "the worker to be ready")
        assert not left.exists()
    finally:
        worker.stop()
        thread.join(timeout=30)


def test_metrics_and_readiness_port(engine: Engine, storage: Storage, worker_settings: Settings) -> None:
    import httpx

    settings = worker_settings.model_copy(update={"worker_metrics_port": 0})
    worker = WorkerProcess(settings, engine=engine, storage=storage, enhancer=HookedLanczos())
    thread = _run_worker_in_thread(worker)
    try:
        _wait_for(lambda: worker.ready, 30, "the worker to be ready")
        base = f"http://127.0.0.1:{worker.http_server.port}"
        assert httpx.get(f"{base}/readyz").status_code == 200
        metrics = httpx.get(f"{base}/metrics").text
        assert "ve_worker_ready 1.0" in metrics and "ve_worker_busy_jobs" in metrics
    finally:
        worker.stop()
        thread.join(timeout=30)


def test_a_taken_metrics_port_stops_the_worker_with_a_clear_message(
    engine: Engine, storage: Storage, worker_settings: Settings
) -> None:
    import socket

    with socket.socket() as taken:
        taken.bind(("0.0.0.0", 0))
        taken.listen()
        settings = worker_settings.model_copy(update={"worker_metrics_port": taken.getsockname()[1]})
        worker = WorkerProcess(settings, engine=engine, storage=storage, enhancer=HookedLanczos())
        with pytest.raises(SystemExit, match="VE_WORKER_METRICS_PORT"):
            worker.run()
    assert not worker.ready


def test_pubsub_setting_runs_the_pubsub_consumer_with_the_same_runner(
    engine: Engine, storage: Storage, worker_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The transport itself is tested against the emulator in tests/cloud; here only the wiring."""
    from video_enhancer.queue import pubsub_worker
    from video_enhancer.worker.light_tasks import LightTasks
    from video_enhancer.worker.runner import JobRunner

    calls: list[tuple[Settings, dict[str, object], object, threading.Event]] = []

    def fake_consumer(
        settings: Settings,
        runner_factories: dict[str, Callable[[], object]],
        *,
        stop: threading.Event,
        light_work: object,
        **_kwargs: object,
    ) -> None:
        runners = {name: factory() for name, factory in runner_factories.items()}
        calls.append((settings, runners, light_work, stop))
        stop.wait(30)

    monkeypatch.setattr(pubsub_worker, "run_pubsub_worker", fake_consumer)
    settings = worker_settings.model_copy(update={"queue": "pubsub"})
    enhancer = HookedLanczos()
    worker = WorkerProcess(
        settings, concurrency=3, engine=engine, storage=storage, enhancer=enhancer, worker_id="ps"
    )
    thread = _run_worker_in_thread(worker)
    _wait_for(lambda: bool(calls), 30, "the Pub/Sub consumer to start")
    worker.stop()
    thread.join(timeout=30)
    consumer_settings, runners, light_work, stop = calls[0]
    assert consumer_settings.worker_concurrency == 3 and consumer_settings.worker_id == "ps"
    assert list(runners) == ["lanczos"] and stop is worker.stop_event
    runner = runners["lanczos"]
    assert isinstance(runner, JobRunner) and runner.enhancer is enhancer
    assert isinstance(light_work, LightTasks) and light_work.runner is runner
    assert not thread.is_alive()


def test_cli_run_serves_the_api_with_a_worker_and_stops_both_on_sigterm(
    session_factory: Factory, storage: Storage, worker_settings: Settings, clips: ClipLibrary
) -> None:
    import socket

    import psutil

    with socket.socket() as probe_socket:
        probe_socket.bind(("127.0.0.1", 0))
        port = probe_socket.getsockname()[1]
    job = queue_file(session_factory, storage, worker_settings, clips.get(CFR).path)
    argv = [sys.executable, "-m", "video_enhancer.cli", "run", "--port", str(port)]
    with _subprocess(argv, _env(worker_settings)) as proc:
        _wait_for(lambda: _job(session_factory, job).status == JobStatus.COMPLETED, 90, "the worker's job")
        # The worker may finish before uvicorn listens (a busy machine): wait for the API too.
        _wait_for(lambda: _answers(f"http://127.0.0.1:{port}/healthz"), 30, "the API")
        workers = psutil.Process(proc.pid).children()
        assert len(workers) == 1 and "worker" in workers[0].cmdline()
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)
        psutil.wait_procs(workers, timeout=30)
        assert not workers[0].is_running()
