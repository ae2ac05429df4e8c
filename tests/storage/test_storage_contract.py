"""The shared `Storage` contract on the local folder and on the in-memory double."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from storage_contract import StorageContract
from video_enhancer.errors import StorageUnavailable
from video_enhancer.storage.base import InvalidKey
from video_enhancer.storage.local import LocalStorage
from video_enhancer.storage.memory import MemoryStorage


class TestLocalStorage(StorageContract):
    @pytest.fixture
    def storage(self, tmp_path: Path) -> LocalStorage:
        return LocalStorage(tmp_path / "root", "test-signing-secret", "http://api.example")


class TestMemoryStorage(StorageContract):
    @pytest.fixture
    def storage(self) -> MemoryStorage:
        return MemoryStorage()


@pytest.mark.parametrize("key", ["../escape", "/absolute", "a//b", ".hidden", "a/../b", ""])
def test_the_memory_double_refuses_what_the_local_backend_refuses(key: str) -> None:
    with pytest.raises(InvalidKey):
        MemoryStorage().put_stream("raw", key, io.BytesIO(b"x"))
    with pytest.raises(InvalidKey):
        MemoryStorage().size("cold", "a")  # type: ignore[arg-type]


def test_the_memory_double_can_play_an_outage() -> None:
    storage = MemoryStorage()
    storage.put_stream("raw", "a", io.BytesIO(b"x"), "video/mp4")
    assert storage.content_type("raw", "a") == "video/mp4"
    storage.unavailable = True
    with pytest.raises(StorageUnavailable):
        storage.check_ready()
    with pytest.raises(StorageUnavailable):
        storage.size("raw", "a")
