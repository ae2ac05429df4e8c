"""GET /enhancers: every registered enhancer, its plans, and what live workers have loaded."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from factories import make_job, make_user
from video_enhancer.catalogue import repository
from video_enhancer.catalogue.service import live_window, speed_at_720p
from video_enhancer.config import Settings
from video_enhancer.enhancers import ENHANCERS
from video_enhancer.models import JobStatus, WorkerEnhancer, utcnow
from video_enhancer.storage.base import Storage
from video_enhancer.worker.enhancer_report import EnhancerReporter
from video_enhancer.worker.process import WorkerProcess
from worker.support import HookedLanczos


def _catalogue(client: TestClient) -> dict[str, dict[str, object]]:
    response = client.get("/enhancers")
    assert response.status_code == 200, response.text
    return {item["name"]: item for item in response.json()["items"]}


def test_lists_every_enhancer_with_its_plans_and_nothing_available_without_workers(
    client: TestClient,
) -> None:
    items = _catalogue(client)
    assert set(items) == set(ENHANCERS)
    general = items["realesr-general-x4v3"]
    assert set(general) == {
        "name", "title", "description", "nativeScale", "classical", "plans", "available", "framesPerSecond"
    }  # fmt: skip
    assert general["nativeScale"] == 4 and general["plans"] == ["FREE", "CREATOR", "PRO"]
    assert items["lanczos"]["nativeScale"] is None and items["lanczos"]["classical"] is True
    assert items["stream-diffvsr"]["plans"] == ["PRO"]
    assert not any(item["available"] for item in items.values())


def test_a_fresh_heartbeat_makes_an_enhancer_available_and_a_stale_one_does_not(
    client: TestClient, session_factory: sessionmaker[Session], settings: Settings
) -> None:
    now = utcnow()
    stale = now - live_window(settings) - timedelta(seconds=1)
    with session_factory.begin() as session:
        repository.report_loaded(session, "gpu-1", "realesr-general-x4v3", "cuda:0", now)
        repository.report_loaded(session, "gpu-2", "realesrgan-x4plus", "cuda:0", stale)
        repository.record_speed(session, "gpu-1", "realesr-general-x4v3", 41.5)
    items = _catalogue(client)
    assert items["realesr-general-x4v3"]["available"] is True
    assert items["realesr-general-x4v3"]["framesPerSecond"] == 41.5
    assert items["realesrgan-x4plus"]["available"] is False
    assert items["realesrgan-x4plus"]["framesPerSecond"] is None


def test_speed_is_scaled_to_720p_output_from_a_completed_job(
    session_factory: sessionmaker[Session],
) -> None:
    with session_factory.begin() as session:
        job = make_job(session, make_user(session), status=JobStatus.COMPLETED)
        job.enhancer, job.fps = "lanczos", 20.0
        job.result = {"outputWidth": 640, "outputHeight": 360}  # a quarter of 720p's pixels
        repository.report_loaded(session, "cpu-1", "lanczos", None, utcnow())
        job_id = job.id
    assert speed_at_720p(job) == 5.0
    EnhancerReporter(session_factory, "cpu-1", HookedLanczos()).job_finished(job_id)
    with session_factory() as session:
        row = session.get(WorkerEnhancer, ("cpu-1", "lanczos"))
        assert row is not None and row.frames_per_second_720p == 5.0


def test_a_running_worker_reports_its_enhancer_and_takes_it_away_when_it_stops(
    client: TestClient, engine: Engine, storage: Storage, worker_settings: Settings
) -> None:
    worker = WorkerProcess(worker_settings, engine=engine, storage=storage, enhancer=HookedLanczos())
    thread = threading.Thread(target=worker.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 30
        while not worker.ready:
            assert time.monotonic() < deadline, "the worker did not get ready"
            time.sleep(0.05)
        assert _catalogue(client)["lanczos"]["available"] is True
        assert _catalogue(client)["realesrgan-x4plus"]["available"] is False
    finally:
        worker.stop()
        thread.join(timeout=30)
    assert _catalogue(client)["lanczos"]["available"] is False
