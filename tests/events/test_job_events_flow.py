"""A real job, from upload to completion, writes its events; its stream replays them and ends."""

from __future__ import annotations

import json
import threading
import time
import uuid
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import Engine

from helpers import register_user
from media.clips import CFR, ClipLibrary
from video_enhancer.config import Settings
from video_enhancer.models import Plan
from video_enhancer.storage.local import LocalStorage
from video_enhancer.worker.process import WorkerProcess
from video_helpers import put_upload, ticket


def _events(client: TestClient, headers: dict[str, str], path: str) -> list[dict[str, Any]]:
    response = client.get(path, headers=headers)
    assert response.status_code == 200
    events = []
    for block in response.text.split("\r\n\r\n"):
        fields = dict(
            line.split(": ", 1) for line in block.splitlines() if ": " in line and not line.startswith(":")
        )
        if "data" in fields:
            event = json.loads(fields["data"])
            assert fields["id"] == str(event["id"]) and fields["event"] == event["type"]
            events.append(event)
    return events


def test_a_job_writes_its_events_and_its_stream_ends_after_completion(
    client: TestClient, settings: Settings, engine: Engine, clips: ClipLibrary
) -> None:
    clip = clips.get(CFR)
    content = clip.path.read_bytes()
    headers = register_user(client, f"flow-{uuid.uuid4().hex[:8]}@example.com", plan=Plan.CREATOR)
    upload = ticket(
        client,
        headers,
        filename="a.mp4",
        contentType="video/mp4",
        sizeBytes=len(content),
        durationSeconds=clip.duration_s,
    )
    assert put_upload(client, upload, content).status_code in (200, 201, 204)
    worker_settings = settings.model_copy(
        update={"segment_seconds": 0.5, "worker_metrics_port": -1, "queue_poll_seconds": 0.1}
    )
    worker = WorkerProcess(
        worker_settings, engine=engine, storage=LocalStorage.from_settings(worker_settings)
    )
    thread = threading.Thread(target=worker.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 120
        while client.get(f"/jobs/{upload['jobId']}", headers=headers).json()["status"] != "COMPLETED":
            assert time.monotonic() < deadline, "the job did not complete"
            time.sleep(0.2)
    finally:
        worker.stop()
        thread.join(timeout=60)

    events = _events(client, headers, f"/jobs/{upload['jobId']}/events")
    types = [event["type"] for event in events]
    assert types[:3] == ["video.uploaded", "job.queued", "job.processing"]
    assert types[-1] == "job.completed"
    assert set(types[3:-1]) <= {"job.progress"}
    assert [event["id"] for event in events] == list(range(1, len(events) + 1))
    assert all(
        e["data"]["jobId"] == upload["jobId"] and e["data"]["videoId"] == upload["videoId"] for e in events
    )
    assert events[0]["data"]["sizeBytes"] == len(content)
    assert events[1]["data"]["queuePosition"] == 1
    completed = events[-1]["data"]
    assert completed["status"] == "COMPLETED" and completed["minutesCharged"] == 1
    assert completed["enhancer"] == "lanczos" and completed["outputSizeBytes"] > 0
    # The same log, read as "all my jobs" from an id in the middle.
    later = _events(client, {**headers, "Last-Event-ID": "2"}, f"/jobs/{upload['jobId']}/events")
    assert [event["id"] for event in later] == [event["id"] for event in events[2:]]


def test_cancel_before_upload_and_expiry_write_job_canceled(client: TestClient) -> None:
    headers = register_user(client, f"cancel-{uuid.uuid4().hex[:8]}@example.com", plan=Plan.CREATOR)
    upload = ticket(client, headers)
    assert client.post(f"/jobs/{upload['jobId']}/cancel", headers=headers).status_code == 200
    events = _events(client, headers, f"/jobs/{upload['jobId']}/events")
    assert [(e["type"], e["data"]["status"]) for e in events] == [("job.canceled", "CANCELED")]
