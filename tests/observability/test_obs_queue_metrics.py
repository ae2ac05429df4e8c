"""Queue gauges read from the database at scrape time: depth and oldest wait per priority."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from factories import add_job, add_user
from video_enhancer.app import create_app
from video_enhancer.config import Settings
from video_enhancer.db import make_engine
from video_enhancer.models import JobStatus, utcnow
from video_enhancer.observability.collectors import QueueCollector

from .scrape import metric_value


def _seed_queue(session: Session) -> None:
    now = utcnow()
    user = add_user(session)
    add_job(session, user, JobStatus.QUEUED, priority=0, queued_at=now - timedelta(seconds=600))
    add_job(session, user, JobStatus.QUEUED, priority=0, queued_at=now - timedelta(seconds=30))
    add_job(session, user, JobStatus.QUEUED, priority=2, queued_at=now - timedelta(seconds=90))
    add_job(session, user, JobStatus.PROCESSING, priority=1, queued_at=now - timedelta(hours=5))
    add_job(session, user, JobStatus.AWAITING_UPLOAD)
    add_job(session, user, JobStatus.COMPLETED, queued_at=now - timedelta(days=3))
    session.commit()


def test_queue_depth_and_oldest_age_per_priority(client: TestClient, session: Session) -> None:
    _seed_queue(session)
    assert metric_value(client, "ve_queue_depth", {"priority": "0"}) == 2.0
    assert metric_value(client, "ve_queue_depth", {"priority": "1"}) == 0.0  # PROCESSING is not waiting
    assert metric_value(client, "ve_queue_depth", {"priority": "2"}) == 1.0
    oldest_free = metric_value(client, "ve_queue_oldest_job_age_seconds", {"priority": "0"})
    assert oldest_free is not None and 600 <= oldest_free < 660
    oldest_pro = metric_value(client, "ve_queue_oldest_job_age_seconds", {"priority": "2"})
    assert oldest_pro is not None and 90 <= oldest_pro < 150
    assert metric_value(client, "ve_queue_oldest_job_age_seconds", {"priority": "1"}) == 0.0


def test_jobs_by_status_counts_active_jobs(client: TestClient, session: Session) -> None:
    _seed_queue(session)
    assert metric_value(client, "ve_jobs_by_status", {"status": "QUEUED"}) == 3.0
    assert metric_value(client, "ve_jobs_by_status", {"status": "PROCESSING"}) == 1.0
    assert metric_value(client, "ve_jobs_by_status", {"status": "AWAITING_UPLOAD"}) == 1.0
    assert metric_value(client, "ve_jobs_by_status", {"status": "UPLOADED"}) == 0.0
    # Finished jobs are counted by the worker's ve_jobs_finished_total, not by scanning history.
    assert metric_value(client, "ve_jobs_by_status", {"status": "COMPLETED"}) is None
    assert metric_value(client, "ve_database_up") == 1.0


def test_collector_caches_between_close_scrapes(engine: Engine, session: Session) -> None:
    clock = [100.0]
    collector = QueueCollector(engine, max_age_seconds=5.0, clock=lambda: clock[0])

    def depth() -> float:
        family = next(f for f in collector.collect() if f.name == "ve_queue_depth")
        return sum(sample.value for sample in family.samples)

    assert depth() == 0.0
    _seed_queue(session)
    clock[0] += 1.0
    assert depth() == 0.0  # served from the snapshot taken a second ago
    clock[0] += 5.0
    assert depth() == 3.0


def test_scrape_survives_an_unreachable_database(settings: Settings, tmp_path: Path) -> None:
    url = (
        f"sqlite:///{tmp_path}/missing-folder/never.db"
        if settings.is_sqlite
        else "postgresql+psycopg://postgres@127.0.0.1:1/unreachable?connect_timeout=2"
    )
    engine = make_engine(url, pool_size=1)
    with TestClient(create_app(settings.model_copy(update={"database_url": url}), engine=engine)) as client:
        response = client.get("/metrics")
        assert response.status_code == 200
        assert metric_value(client, "ve_database_up") == 0.0
        assert metric_value(client, "ve_queue_depth", {"priority": "0"}) is None  # absent, not a stale 0
        assert metric_value(client, "ve_http_requests_total", {"route": "/metrics"}) is not None
    engine.dispose()
