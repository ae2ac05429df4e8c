"""The worker's metrics server listens where it is told: loopback unless configured otherwise."""

from __future__ import annotations

import threading
import time

import pytest
from sqlalchemy import Engine

from video_enhancer.cli.server import worker_environment
from video_enhancer.config import Settings
from video_enhancer.storage.base import Storage
from video_enhancer.worker.process import WorkerProcess
from worker.support import HookedLanczos


def _bound_host(settings: Settings, engine: Engine, storage: Storage) -> str:
    worker = WorkerProcess(settings, engine=engine, storage=storage, enhancer=HookedLanczos())
    thread = threading.Thread(target=worker.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 30
        while worker.http_server is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert worker.http_server is not None, "the metrics server did not start"
        return str(worker.http_server.server_address[0])
    finally:
        worker.stop()
        thread.join(timeout=30)


def test_metrics_listen_on_loopback_by_default(
    engine: Engine, storage: Storage, worker_settings: Settings
) -> None:
    settings = worker_settings.model_copy(
        update={"worker_metrics_port": 0, "worker_metrics_host": "127.0.0.1"}
    )
    assert Settings.model_fields["worker_metrics_host"].default == "127.0.0.1"
    assert _bound_host(settings, engine, storage) == "127.0.0.1"


def test_metrics_follow_the_configured_host(
    engine: Engine, storage: Storage, worker_settings: Settings
) -> None:
    settings = worker_settings.model_copy(update={"worker_metrics_port": 0, "worker_metrics_host": "0.0.0.0"})
    assert _bound_host(settings, engine, storage) == "0.0.0.0"


def test_run_gives_its_host_to_the_embedded_worker(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("VE_WORKER_METRICS_HOST", raising=False)
    assert worker_environment("127.0.0.1")["VE_WORKER_METRICS_HOST"] == "127.0.0.1"
    monkeypatch.setenv("VE_WORKER_METRICS_HOST", "10.1.2.3")  # an explicit setting wins
    assert worker_environment("0.0.0.0")["VE_WORKER_METRICS_HOST"] == "10.1.2.3"
