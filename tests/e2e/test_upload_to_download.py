"""The whole path on both databases: API upload -> worker -> COMPLETED -> signed download -> probe."""

from __future__ import annotations

import threading
import time
import uuid
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import Engine

from helpers import register_user
from media.clips import CFR, ClipLibrary
from video_enhancer.config import Settings
from video_enhancer.media.probe import probe
from video_enhancer.models import Plan
from video_enhancer.storage.local import LocalStorage
from video_enhancer.worker.process import WorkerProcess
from video_helpers import local_path, put_upload, ticket


def _poll_job(
    client: TestClient, headers: dict[str, str], job_id: str, timeout: float = 120
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    seen: list[str] = []
    while time.monotonic() < deadline:
        job: dict[str, Any] = client.get(f"/jobs/{job_id}", headers=headers).json()
        if not seen or seen[-1] != job["status"]:
            seen.append(job["status"])
        if job["status"] in ("COMPLETED", "FAILED", "CANCELED"):
            return job
        time.sleep(0.2)
    raise AssertionError(f"job did not finish; statuses seen: {seen}")


def test_upload_is_enhanced_and_downloadable(
    client: TestClient, settings: Settings, engine: Engine, clips: ClipLibrary, tmp_path: Path
) -> None:
    clip = clips.get(CFR)
    content = clip.path.read_bytes()
    headers = register_user(client, f"e2e-{uuid.uuid4().hex[:8]}@example.com", plan=Plan.CREATOR)
    upload = ticket(
        client,
        headers,
        filename="phone.mp4",
        contentType="video/mp4",
        sizeBytes=len(content),
        durationSeconds=clip.duration_s,
    )
    assert put_upload(client, upload, content).status_code in (200, 201, 204)
    assert client.get(f"/jobs/{upload['jobId']}", headers=headers).json()["status"] == "QUEUED"

    worker_settings = settings.model_copy(
        update={"segment_seconds": 0.5, "worker_metrics_port": -1, "queue_poll_seconds": 0.1}
    )
    worker = WorkerProcess(
        worker_settings, engine=engine, storage=LocalStorage.from_settings(worker_settings)
    )
    thread = threading.Thread(target=worker.run, daemon=True)
    thread.start()
    try:
        job = _poll_job(client, headers, upload["jobId"])
    finally:
        worker.stop()
        thread.join(timeout=60)

    assert job["status"] == "COMPLETED", job
    assert job["minutesCharged"] == 1 and job["minutesHeld"] == 0
    assert job["enhancer"] == "lanczos" and job["progressPercent"] == 100
    video = client.get(f"/videos/{upload['videoId']}", headers=headers).json()
    assert video["durationSeconds"] == clip.duration_s
    assert video["downloadUrl"]
    response = client.get(local_path(video["downloadUrl"]))
    assert response.status_code == 200
    output = tmp_path / "downloaded.mp4"
    output.write_bytes(response.content)
    info = probe(output)
    assert info.video.frame_count == clip.frames
    assert (info.video.width, info.video.height) == (384, 256)  # 4x of 96x64, under CREATOR's 1080
    assert info.has_audio
