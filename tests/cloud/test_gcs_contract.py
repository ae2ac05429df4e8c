"""The shared `Storage` contract on GcsStorage against fake-gcs-server."""

from __future__ import annotations

import pytest

from storage_contract import StorageContract
from video_enhancer.storage.gcs import GcsStorage


class TestGcsStorage(StorageContract):
    @pytest.fixture
    def storage(self, gcs_storage: GcsStorage) -> GcsStorage:
        return gcs_storage
