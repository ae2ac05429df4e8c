"""The size plan, visible: planned sizes on the upload ticket, measured ones on the video."""

from __future__ import annotations

import hashlib
import runpy
import threading
import time
import uuid
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import Engine

from helpers import register_user
from media.clips import ROTATED, ClipLibrary
from video_enhancer.config import Settings
from video_enhancer.models import Plan
from video_enhancer.storage.local import LocalStorage
from video_enhancer.videos.size_plan import parse_resolution, visible_plan
from video_enhancer.worker.process import WorkerProcess
from video_helpers import local_path, new_user, put_upload, ticket


def _size(width: int, height: int) -> dict[str, int]:
    return {"width": width, "height": height}


def test_ticket_shows_the_plan_for_a_claimed_portrait_1080p_clip(client: TestClient) -> None:
    headers = new_user(client, Plan.FREE)
    upload = ticket(client, headers, width=1080, height=1920)
    # FREE: short side at most 720, so the portrait clip keeps its aspect at 720x1280.
    assert upload["plannedSizes"] == {
        "sourceSize": _size(1080, 1920),
        "modelInputSize": _size(1080, 1920),  # Lanczos reads the source as it is
        "outputSize": _size(720, 1280),
        "enhancer": "lanczos",
    }


def test_ticket_without_a_claimed_size_has_no_plan(client: TestClient) -> None:
    assert ticket(client, new_user(client, Plan.CREATOR))["plannedSizes"] is None


def test_ticket_rejects_a_zero_width(client: TestClient) -> None:
    response = client.post(
        "/videos/upload",
        json={
            "filename": "a.mp4",
            "contentType": "video/mp4",
            "sizeBytes": 10,
            "durationSeconds": 1,
            "width": 0,
            "height": 10,
        },
        headers=new_user(client),
    )
    assert response.status_code == 422


def test_the_x4_model_sees_a_quarter_of_the_output() -> None:
    plan = visible_plan((1920, 1080), 1080, "stream-diffvsr")
    assert plan.output == (1920, 1080)
    assert plan.model_input == (480, 272)  # 270 rounded to the model's multiple of 4


def test_parse_resolution_refuses_garbage() -> None:
    assert parse_resolution("64x96") == (64, 96)
    assert parse_resolution(None) is None
    assert parse_resolution("64 by 96") is None


def _poll(client: TestClient, headers: dict[str, str], job_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        job: dict[str, Any] = client.get(f"/jobs/{job_id}", headers=headers).json()
        if job["status"] in ("COMPLETED", "FAILED", "CANCELED"):
            return job
        time.sleep(0.2)
    raise AssertionError("job did not finish")


def test_video_shows_the_measured_plan_of_a_rotated_phone_clip(
    client: TestClient, settings: Settings, engine: Engine, clips: ClipLibrary
) -> None:
    clip = clips.get(ROTATED)  # coded 96x64, rotated 90 degrees: upright 64x96
    content = clip.path.read_bytes()
    headers = register_user(client, f"plan-{uuid.uuid4().hex[:8]}@example.com", plan=Plan.PRO)
    upload = ticket(client, headers, sizeBytes=len(content), durationSeconds=clip.duration_s)
    assert put_upload(client, upload, content).status_code in (200, 201, 204)
    before = client.get(f"/videos/{upload['videoId']}", headers=headers).json()
    assert before["sourceSize"] is None and before["outputSize"] is None

    worker_settings = settings.model_copy(update={"worker_metrics_port": -1, "queue_poll_seconds": 0.1})
    storage = LocalStorage.from_settings(worker_settings)
    worker = WorkerProcess(worker_settings, engine=engine, storage=storage)
    thread = threading.Thread(target=worker.run, daemon=True)
    thread.start()
    try:
        job = _poll(client, headers, upload["jobId"])
    finally:
        worker.stop()
        thread.join(timeout=60)

    assert job["status"] == "COMPLETED", job
    assert job["quality"]["psnrDb"] > 25 and 0.9 < job["quality"]["ssim"] <= 1
    credentials = job["contentCredentials"]
    assert credentials["standard"] == "C2PA" and credentials["validationState"] in ("Valid", "Trusted")
    assert credentials["sourceSha256"] == hashlib.sha256(content).hexdigest()
    video = client.get(f"/videos/{upload['videoId']}", headers=headers).json()
    assert video["sourceSize"] == _size(64, 96)
    assert video["modelInputSize"] == _size(64, 96)
    assert video["outputSize"] == _size(256, 384)  # 4x, under PRO's 1080 short side
    assert video["enhancer"] == "lanczos"
    assert video["outputResolution"] == "256x384"
    # The worker's light task made the source's poster ahead of the job; completion the output's.
    assert video["thumbnailUrl"] and video["outputThumbnailUrl"]
    output_poster = client.get(local_path(video["outputThumbnailUrl"]))
    assert output_poster.status_code == 200 and output_poster.content[:2] == b"\xff\xd8"  # JPEG
    listed = client.get("/videos", headers=headers).json()["items"][0]
    assert listed["outputSize"] == video["outputSize"]


def test_docs_table_is_the_one_the_sizing_code_prints() -> None:
    root = Path(__file__).parents[2]
    table = runpy.run_path(str(root / "scripts" / "size_plan_table.py"))["size_plan_table"]()
    assert "| 1080p portrait | 1080x1920 | 720x1280" in table
    assert table in (root / "docs" / "worker.md").read_text()
