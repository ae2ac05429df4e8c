"""One real job, upload to completion: its request id is on every line, and the job metrics move.

The API takes the upload, the worker (its real process loop, metrics port included) enhances a
tiny clip with the classical enhancer; both run in this process, as in `video-enhancer run`.
"""

from __future__ import annotations

import threading
import time
import urllib.request
import uuid
from typing import Any

from fastapi.testclient import TestClient
from prometheus_client import REGISTRY, generate_latest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy.orm import Session

from fixtures_api import LogReader
from helpers import register_user
from media.clips import CFR, ClipLibrary
from video_enhancer.config import Settings
from video_enhancer.models import Job, JobStatus, Plan
from video_enhancer.storage.local import LocalStorage
from video_enhancer.worker.process import WorkerProcess
from video_helpers import put_upload, request_upload

from .scrape import metric_value

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def _scrape(port: int) -> Samples:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
        return _parse(response.read().decode())


def _parse(text: str) -> Samples:
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def _value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def _total(samples: Samples, name: str) -> float:
    return sum(value for (sample, _labels), value in samples.items() if sample == name)


def _wait_for_final_status(session: Session, job_id: uuid.UUID, timeout: float = 120) -> Job:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = session.get(Job, job_id)
        assert job is not None
        session.expunge(job)  # keep the loaded values without a transaction open...
        session.rollback()  # ...because on SQLite every transaction holds the write lock
        if job.status.is_terminal:
            return job
        time.sleep(0.2)
    raise AssertionError("the job did not finish in time")


def _upload(client: TestClient, clips: ClipLibrary, request_id: str) -> dict[str, Any]:
    clip = clips.get(CFR)
    content = clip.path.read_bytes()
    headers = register_user(client, f"trace-{uuid.uuid4().hex[:8]}@example.com", plan=Plan.CREATOR)
    response = request_upload(
        client,
        {**headers, "X-Request-ID": request_id},
        filename="phone.mp4",
        contentType="video/mp4",
        sizeBytes=len(content),
        durationSeconds=clip.duration_s,
    )
    assert response.status_code == 201, response.text
    assert response.headers["X-Request-ID"] == request_id
    upload: dict[str, Any] = response.json()
    assert put_upload(client, upload, content).status_code in (200, 201, 204)
    return upload


def _scrape_when_finished_moves(port: int, before: Samples, timeout: float = 10) -> Samples:
    """A job is counted just after its final status commits, and its processing time just after
    that (the runner observes it once the completion returns): wait for both."""
    deadline = time.monotonic() + timeout
    counted = ("ve_jobs_finished_total", "ve_job_processing_seconds_count")
    while True:
        after = _scrape(port)
        moved = all(_total(after, name) > _total(before, name) for name in counted)
        if moved or time.monotonic() > deadline:
            return after
        time.sleep(0.05)


def _run_worker_until_done(
    settings: Settings, session: Session, job_id: uuid.UUID
) -> tuple[Job, Samples, Samples]:
    worker_settings = settings.model_copy(
        update={"segment_seconds": 0.5, "worker_metrics_port": 0, "queue_poll_seconds": 0.1}
    )
    worker = WorkerProcess(worker_settings, storage=LocalStorage.from_settings(worker_settings))
    # The worker's server exposes this process's registry: read it before the worker starts.
    before = _parse(generate_latest(REGISTRY).decode())
    thread = threading.Thread(target=worker.run, daemon=True)
    thread.start()
    try:
        job = _wait_for_final_status(session, job_id)
        after = _scrape_when_finished_moves(worker.http_server.port, before)
    finally:
        worker.stop()
        thread.join(timeout=60)
    return job, before, after


def test_request_id_and_metrics_follow_a_real_job(
    client: TestClient, settings: Settings, session: Session, clips: ClipLibrary, read_logs: LogReader
) -> None:
    request_id = f"trace-{uuid.uuid4().hex}"
    upload = _upload(client, clips, request_id)
    job_id = uuid.UUID(upload["jobId"])
    queued = session.get(Job, job_id)
    assert queued is not None and queued.request_id == request_id and queued.status == JobStatus.QUEUED
    session.rollback()
    assert metric_value(client, "ve_queue_depth", {"priority": "1"}) == 1.0  # CREATOR priority

    job, before, after = _run_worker_until_done(settings, session, job_id)
    assert job.status == JobStatus.COMPLETED, (job.error_code, job.error_message)

    lines = read_logs()
    upload_line = next(line for line in lines if line.get("route") == "/videos/upload")
    assert upload_line["request_id"] == request_id and upload_line["status"] == 201
    job_lines = [line for line in lines if line.get("job_id") == str(job_id)]
    assert job_lines and all(line.get("request_id") == request_id for line in job_lines)
    completed = next(line for line in job_lines if line["message"] == "job completed")
    assert completed["user_id"] == str(job.user_id) and completed["minutes_charged"] == 1

    finished = ("ve_jobs_finished_total", {"status": "COMPLETED", "error_code": ""})
    assert _value(after, finished[0], **finished[1]) == _value(before, finished[0], **finished[1]) + 1
    charged = ("ve_minutes_charged_total", {"plan": "CREATOR"})
    assert _value(after, charged[0], **charged[1]) == _value(before, charged[0], **charged[1]) + 1
    assert (
        _total(after, "ve_job_processing_seconds_count")
        == _total(before, "ve_job_processing_seconds_count") + 1
    )
    assert _total(after, "ve_job_stage_seconds_count") > _total(before, "ve_job_stage_seconds_count")
    frames = _value(after, "ve_worker_frames_total", enhancer="lanczos")
    assert frames - _value(before, "ve_worker_frames_total", enhancer="lanczos") == clips.get(CFR).frames
    assert _value(after, "ve_worker_ready") == 1.0
