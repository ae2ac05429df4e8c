"""Worker fixtures: `worker_settings` (quick leases and polling), local `storage` and `scratch`."""

from __future__ import annotations

from pathlib import Path

import pytest

from video_enhancer.config import Settings
from video_enhancer.storage.base import Storage
from video_enhancer.storage.local import LocalStorage


@pytest.fixture
def worker_settings(settings: Settings) -> Settings:
    """Short segments (several per clip), quick heartbeats and polling, no fixed metrics port."""
    return settings.model_copy(
        update={
            "segment_seconds": 0.5,
            "job_lease_seconds": 30,
            "queue_poll_seconds": 0.1,
            "worker_metrics_port": -1,
        }
    )


@pytest.fixture
def storage(worker_settings: Settings) -> Storage:
    return LocalStorage.from_settings(worker_settings)


@pytest.fixture
def scratch(worker_settings: Settings) -> Path:
    return worker_settings.worker_scratch_dir
