"""Posters and previews on a Pub/Sub worker.

First the consumer's rule with scripted light work (the subject is when the slot runs it): light
work claimed ahead goes before the waiting job, idle work never while a job runs. Then the real
thing: the API and a `WorkerProcess` on `VE_QUEUE=pubsub` with fake-gcs-server, where an upload
gets its poster, a preview completes, the started job runs through Pub/Sub, and a job for an
enhancer no worker offers says it waits for one.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from cloud_helpers import ServiceAccountKey
from fastapi.testclient import TestClient
from pubsub_helpers import (
    RecordingRunner,
    consumer_running,
    job_status,
    make_consumer,
    queue_job,
    relay,
    setup_pubsub,
    wait_until,
)
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from media.clips import ClipLibrary, ClipSpec
from video_enhancer.app import create_app
from video_enhancer.config import Settings
from video_enhancer.enhancers.lanczos import LanczosEnhancer
from video_enhancer.models import JobStatus, Plan
from video_enhancer.queue.database import ClaimedJob
from video_enhancer.queue.pubsub_worker import SlotTask
from video_enhancer.storage.gcs import GcsStorage
from video_enhancer.worker.process import WorkerProcess
from video_helpers import new_user, ticket

CLIP = ClipSpec(name="pubsub-light", width=64, height=48, fps=8, seconds=2.0)

# -- the consumer's rule ----------------------------------------------------------------------


@dataclass
class EventRunner(RecordingRunner):
    events: list[str] = field(default_factory=list)

    def run(self, claimed: ClaimedJob) -> None:
        self.events.append("job started")
        super().run(claimed)
        self.events.append("job finished")


@dataclass
class ScriptedLightWork:
    """Light work that is always claimable until taken; each task notes when it ran."""

    events: list[str]
    ahead: list[str]
    idle: list[str]

    def claim_ahead(self) -> SlotTask | None:
        return self._take(self.ahead)

    def claim_when_idle(self) -> SlotTask | None:
        return self._take(self.idle)

    def _take(self, tasks: list[str]) -> SlotTask | None:
        if not tasks:
            return None
        name = tasks.pop(0)
        return lambda: self.events.append(name)


def test_light_work_goes_ahead_of_jobs_and_idle_work_waits_for_them(
    pubsub_settings: Settings, session_factory: sessionmaker[Session]
) -> None:
    setup_pubsub(pubsub_settings)
    job_id = queue_job(session_factory, pubsub_settings, Plan.PRO)
    relay(session_factory, pubsub_settings)
    runner = EventRunner(session_factory, seconds=1.5)
    light = ScriptedLightWork(runner.events, ahead=["poster"], idle=["preview"])
    # Two slots: a free slot could run the preview beside the job, and must not.
    consumer = make_consumer(pubsub_settings, session_factory, runner, concurrency=2, light_work=light)
    with consumer_running(consumer):
        wait_until(lambda: "preview" in runner.events, 30, "the idle work")
    assert job_status(session_factory, job_id) == JobStatus.COMPLETED
    assert runner.events == ["poster", "job started", "job finished", "preview"]


# -- the real worker process ------------------------------------------------------------------


@dataclass
class CloudStack:
    client: TestClient
    worker: WorkerProcess


@pytest.fixture
def cloud_stack(
    pubsub_settings: Settings,
    engine: Engine,
    gcs_emulator: str,
    service_account_key: ServiceAccountKey,
) -> Iterator[CloudStack]:
    suffix = time.monotonic_ns() % 10**8
    settings = pubsub_settings.model_copy(
        update={
            "storage": "gcs",
            "gcs_endpoint": gcs_emulator,
            "gcs_credentials_file": service_account_key.path,
            "raw_bucket": f"raw-light-{suffix}",
            "enhanced_bucket": f"enhanced-light-{suffix}",
            "segment_seconds": 0.5,
            "preview_seconds": 1.0,
            "job_lease_seconds": 30,
            "worker_metrics_port": -1,
        }
    )
    storage = GcsStorage.from_settings(settings)
    storage.ensure_buckets()
    setup_pubsub(settings)
    worker = WorkerProcess(
        settings, engine=engine, storage=storage, enhancer=LanczosEnhancer(), worker_id="pubsub-light"
    )
    thread = threading.Thread(target=worker.run, daemon=True)
    thread.start()
    try:
        with TestClient(create_app(settings, engine=engine, storage=storage)) as client:
            wait_until(lambda: worker.ready, 30, "the worker")
            yield CloudStack(client, worker)
    finally:
        worker.stop()
        thread.join(timeout=60)
    assert not thread.is_alive() and worker.exit_status == 0


def _upload(client: TestClient, headers: dict[str, str], content: bytes, **options: Any) -> dict[str, Any]:
    upload = ticket(client, headers, sizeBytes=len(content), durationSeconds=CLIP.seconds, **options)
    assert upload["uploadUrl"].startswith("http://127.0.0.1")  # signed, straight to the bucket
    put = httpx.put(upload["uploadUrl"], content=content, headers=upload["uploadHeaders"])
    assert put.status_code == 200, put.text
    done = client.post(f"/videos/{upload['videoId']}/complete", headers=headers)
    assert done.status_code in (200, 202), done.text
    return upload


def _video(client: TestClient, headers: dict[str, str], video_id: str) -> dict[str, Any]:
    body: dict[str, Any] = client.get(f"/videos/{video_id}", headers=headers).json()
    return body


def _job(client: TestClient, headers: dict[str, str], job_id: str) -> dict[str, Any]:
    body: dict[str, Any] = client.get(f"/jobs/{job_id}", headers=headers).json()
    return body


def test_a_pubsub_worker_makes_posters_and_previews_and_runs_the_started_job(
    cloud_stack: CloudStack, clips: ClipLibrary
) -> None:
    client = cloud_stack.client
    content = clips.get(CLIP).path.read_bytes()
    headers = new_user(client, Plan.CREATOR)
    upload = _upload(client, headers, content, autoStart=False)
    video_id = upload["videoId"]

    # A job for an enhancer no live worker offers: queued, waiting, and left alone.
    waiting = _upload(client, headers, content, enhancer="realesr-general-x4v3")
    assert _job(client, headers, waiting["jobId"])["waitingFor"] == "enhancer"

    wait_until(lambda: _video(client, headers, video_id)["thumbnailUrl"] is not None, 60, "the poster")
    poster = httpx.get(_video(client, headers, video_id)["thumbnailUrl"])
    assert poster.status_code == 200 and poster.content[:3] == b"\xff\xd8\xff"  # a JPEG from the bucket
    assert _video(client, headers, video_id)["status"] == "UPLOADED"  # no job started for a poster

    asked = client.post(f"/videos/{video_id}/preview", headers=headers)
    assert asked.status_code == 202, asked.text

    def preview() -> dict[str, Any]:
        previews: list[dict[str, Any]] = _video(client, headers, video_id)["previews"]
        return previews[0]

    wait_until(lambda: preview()["status"] in ("COMPLETED", "FAILED"), 120, "the preview")
    assert preview()["status"] == "COMPLETED", preview()
    assert httpx.get(preview()["afterUrl"]).content[4:8] == b"ftyp"

    started = client.post(f"/videos/{video_id}/jobs", headers=headers)
    assert started.status_code in (200, 201, 202), started.text
    job_id = upload["jobId"]
    wait_until(lambda: _job(client, headers, job_id)["status"] in ("COMPLETED", "FAILED"), 120, "the job")
    assert _job(client, headers, job_id)["status"] == "COMPLETED"

    still = _job(client, headers, waiting["jobId"])
    assert (still["status"], still["waitingFor"]) == ("QUEUED", "enhancer")
