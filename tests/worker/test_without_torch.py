"""A light install (no `[model]` extra) serves the API and runs Lanczos jobs without torch.

Both run in a subprocess where importing torch, diffusers and the other model packages fails
(`without_torch.py`); the test also fails if anything merely tried to import them.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker

from media.clips import CFR, ClipLibrary
from video_enhancer.config import Settings
from video_enhancer.models import Job, JobStatus
from video_enhancer.storage.base import Storage
from worker.support import queue_file

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = Path(__file__).with_name("without_torch.py")


def _env(settings: Settings, report: Path) -> dict[str, str]:
    inherited = {k: v for k, v in os.environ.items() if not k.startswith("VE_")}
    return {
        **inherited,
        "PYTHONPATH": str(ROOT / "src"),
        "WITHOUT_TORCH_REPORT": str(report),
        "VE_ENV": "test",
        "VE_DATABASE_URL": settings.database_url,
        "VE_STORAGE_ROOT": str(settings.storage_root),
        "VE_WORKER_SCRATCH_DIR": str(settings.worker_scratch_dir),
        "VE_SEGMENT_SECONDS": str(settings.segment_seconds),
        "VE_ENCODER_PRESET": "ultrafast",
        "VE_QUEUE_POLL_SECONDS": "0.2",
        "VE_WORKER_METRICS_PORT": "-1",
        "VE_PUBLIC_BASE_URL": "http://testserver",
        "VE_BCRYPT_ROUNDS": "4",
        "VE_ENHANCER": "auto",
    }


def _status(session_factory: sessionmaker[Session], job: Job) -> tuple[JobStatus, str | None]:
    with session_factory() as session:
        fresh = session.get(Job, job.id)
        assert fresh is not None
        return fresh.status, fresh.enhancer


@pytest.mark.db_backends("sqlite")  # about the import graph; the queue itself is tested elsewhere
def test_the_api_starts_and_is_ready_without_the_model_packages(settings: Settings, tmp_path: Path) -> None:
    report = tmp_path / "imports.txt"
    result = subprocess.run(
        [sys.executable, str(SCRIPT), "api"],
        env=_env(settings, report),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert report.read_text() == ""
    body = json.loads(result.stdout.strip().splitlines()[-1])
    assert body["status"] == "ready"
    assert body["enhancer"]["name"] == "lanczos" and body["enhancer"]["classical"] is True


@pytest.mark.db_backends("sqlite")
def test_the_lanczos_worker_completes_a_job_without_the_model_packages(
    session_factory: sessionmaker[Session],
    storage: Storage,
    worker_settings: Settings,
    clips: ClipLibrary,
    tmp_path: Path,
) -> None:
    job = queue_file(session_factory, storage, worker_settings, clips.get(CFR).path)
    report = tmp_path / "imports.txt"
    proc = subprocess.Popen(
        [sys.executable, str(SCRIPT), "worker"],
        env=_env(worker_settings, report),
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 120
        while _status(session_factory, job)[0] != JobStatus.COMPLETED and proc.poll() is None:
            assert time.monotonic() < deadline, "the job did not complete"
            time.sleep(0.2)
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=30)
    logs = proc.stdout.read().decode() if proc.stdout else ""
    assert code == 0, logs[-3000:]
    assert _status(session_factory, job) == (JobStatus.COMPLETED, "lanczos")
    assert report.read_text() == ""
