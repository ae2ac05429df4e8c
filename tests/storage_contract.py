"""The `Storage` contract, run against every backend: subclass `StorageContract` and give it a
`storage` fixture (tests/storage for local and memory, tests/cloud for GCS on fake-gcs-server).

Keys are made under a fresh `root` per test, so backends whose buckets outlive a test (the GCS
emulator is shared by the session) start every test empty.
"""

from __future__ import annotations

import io
import os
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from video_enhancer.storage.base import InvalidKey, ObjectNotFound, Storage


class StorageContract:
    @pytest.fixture
    def root(self) -> str:
        return f"contract/{uuid.uuid4().hex}"

    def test_satisfies_the_protocol(self, storage: Storage) -> None:
        assert isinstance(storage, Storage)
        assert storage.name

    def test_a_stream_reads_back_whole(self, storage: Storage, root: str) -> None:
        payload = os.urandom(300_000)
        assert storage.put_stream("raw", f"{root}/a.bin", io.BytesIO(payload), "video/mp4") == len(payload)
        assert b"".join(storage.open_read("raw", f"{root}/a.bin")) == payload
        assert storage.size("raw", f"{root}/a.bin") == len(payload)
        assert storage.exists("raw", f"{root}/a.bin")

    def test_areas_are_kept_apart(self, storage: Storage, root: str) -> None:
        storage.put_stream("raw", f"{root}/same", io.BytesIO(b"raw"))
        storage.put_stream("enhanced", f"{root}/same", io.BytesIO(b"enhanced"))
        assert b"".join(storage.open_read("raw", f"{root}/same")) == b"raw"
        assert b"".join(storage.open_read("enhanced", f"{root}/same")) == b"enhanced"
        storage.delete("raw", f"{root}/same")
        assert storage.exists("enhanced", f"{root}/same")

    def test_an_empty_object_is_an_object(self, storage: Storage, root: str) -> None:
        storage.put_stream("raw", f"{root}/empty", io.BytesIO(b""))
        assert storage.size("raw", f"{root}/empty") == 0
        assert storage.exists("raw", f"{root}/empty")
        assert b"".join(storage.open_read("raw", f"{root}/empty")) == b""

    def test_a_file_goes_in_and_comes_out(self, storage: Storage, root: str, tmp_path: Path) -> None:
        source = tmp_path / "in.mp4"
        source.write_bytes(os.urandom(70_000))
        storage.put_file("enhanced", f"{root}/out.mp4", source, "video/mp4")
        destination = tmp_path / "deep" / "copy.mp4"
        storage.download_to("enhanced", f"{root}/out.mp4", destination)
        assert destination.read_bytes() == source.read_bytes()
        assert sorted(p.name for p in destination.parent.iterdir()) == ["copy.mp4"]  # no partials

    def test_an_overwrite_replaces_the_whole_object(self, storage: Storage, root: str) -> None:
        storage.put_stream("raw", f"{root}/o", io.BytesIO(b"a much longer first version"))
        storage.put_stream("raw", f"{root}/o", io.BytesIO(b"short"))
        assert b"".join(storage.open_read("raw", f"{root}/o")) == b"short"
        assert storage.size("raw", f"{root}/o") == 5

    def test_a_missing_object(self, storage: Storage, root: str, tmp_path: Path) -> None:
        assert storage.size("raw", f"{root}/missing") is None
        assert not storage.exists("raw", f"{root}/missing")
        with pytest.raises(ObjectNotFound):
            b"".join(storage.open_read("raw", f"{root}/missing"))
        downloads = tmp_path / "downloads"
        downloads.mkdir()
        with pytest.raises(ObjectNotFound):
            storage.download_to("raw", f"{root}/missing", downloads / "nothing")
        assert list(downloads.iterdir()) == []
        storage.delete("raw", f"{root}/missing")  # deleting a missing object is not an error

    def test_listing_is_by_prefix_and_sorted(self, storage: Storage, root: str) -> None:
        for key in ("jobs/1/b", "jobs/1/a", "jobs/10/a", "jobs/2/a", "other"):
            storage.put_stream("enhanced", f"{root}/{key}", io.BytesIO(b"x"))
        assert storage.list_keys("enhanced", f"{root}/jobs/1/") == [f"{root}/jobs/1/a", f"{root}/jobs/1/b"]
        assert storage.list_keys("enhanced", f"{root}/jobs/") == [
            f"{root}/jobs/1/a",
            f"{root}/jobs/1/b",
            f"{root}/jobs/10/a",
            f"{root}/jobs/2/a",
        ]
        assert storage.list_keys("raw", f"{root}/") == []
        assert storage.list_keys("enhanced", f"{root}/nothing/") == []

    def test_delete_prefix_removes_only_its_objects(self, storage: Storage, root: str) -> None:
        for key in ("jobs/1/a", "jobs/1/deeper/b", "jobs/10/a"):
            storage.put_stream("enhanced", f"{root}/{key}", io.BytesIO(b"x"))
        storage.put_stream("raw", f"{root}/jobs/1/a", io.BytesIO(b"x"))
        storage.delete_prefix("enhanced", f"{root}/jobs/1/")
        assert storage.list_keys("enhanced", f"{root}/") == [f"{root}/jobs/10/a"]
        assert storage.exists("raw", f"{root}/jobs/1/a")
        storage.delete_prefix("enhanced", f"{root}/jobs/1/")  # again: nothing left, no error

    def test_deleting_a_whole_area_is_refused(self, storage: Storage, root: str) -> None:
        storage.put_stream("raw", f"{root}/kept", io.BytesIO(b"x"))
        for prefix in ("", "/"):
            with pytest.raises(InvalidKey):
                storage.delete_prefix("raw", prefix)
        assert storage.exists("raw", f"{root}/kept")

    def test_signed_urls_say_how_and_until_when(self, storage: Storage, root: str) -> None:
        before = datetime.now(UTC)
        upload = storage.signed_upload_url(
            "raw", f"{root}/up.mp4", content_type="video/mp4", size_bytes=1000, ttl_seconds=600
        )
        assert upload.method == "PUT"
        assert upload.headers["Content-Type"] == "video/mp4"
        assert before + timedelta(seconds=598) <= upload.expires_at <= before + timedelta(seconds=601)
        download = storage.signed_download_url(
            "enhanced", f"{root}/down.mp4", ttl_seconds=60, filename="x.mp4"
        )
        assert download.method == "GET"
        assert download.url != upload.url
        assert before < download.expires_at <= before + timedelta(seconds=61)

    def test_is_ready_and_has_no_stale_writes(self, storage: Storage) -> None:
        storage.check_ready()
        assert storage.remove_stale_partials(timedelta(hours=1)) == 0
