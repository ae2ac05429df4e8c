"""GcsStorage against fake-gcs-server: objects, streaming, signed URLs over plain HTTP, errors."""

from __future__ import annotations

import io
import os
import tracemalloc
from pathlib import Path

import pytest
import requests
from cloud_helpers import ServiceAccountKey, free_port, gcs_settings_for

from video_enhancer.errors import StorageUnavailable
from video_enhancer.storage.base import Storage
from video_enhancer.storage.gcs import CHUNK_BYTES, GcsStorage, ObjectNotFound


def test_satisfies_the_storage_protocol(gcs_storage: GcsStorage) -> None:
    assert isinstance(gcs_storage, Storage)
    assert gcs_storage.name == "gcs"


def test_put_file_roundtrip_in_both_buckets(gcs_storage: GcsStorage, tmp_path: Path) -> None:
    source = tmp_path / "in.bin"
    source.write_bytes(os.urandom(3 * CHUNK_BYTES // 2))  # more than one resumable chunk
    gcs_storage.put_file("raw", "users/u/videos/v/source.mp4", source, "video/mp4")
    gcs_storage.put_file("enhanced", "users/u/videos/v/enhanced.mp4", source, "video/mp4")

    destination = tmp_path / "out" / "copy.bin"
    gcs_storage.download_to("raw", "users/u/videos/v/source.mp4", destination)
    assert destination.read_bytes() == source.read_bytes()
    assert not list(destination.parent.glob("*.partial"))
    assert gcs_storage.size("enhanced", "users/u/videos/v/enhanced.mp4") == source.stat().st_size
    assert gcs_storage.size("enhanced", "users/u/videos/v/source.mp4") is None  # areas are apart


def test_streams_in_and_out_with_bounded_memory(gcs_storage: GcsStorage) -> None:
    size = 5 * CHUNK_BYTES + 12345
    payload = os.urandom(size)
    tracemalloc.start()
    written = gcs_storage.put_stream("raw", "big/object.bin", io.BytesIO(payload), "application/octet-stream")
    chunks = 0
    digest_ok = True
    offset = 0
    for chunk in gcs_storage.open_read("raw", "big/object.bin"):
        digest_ok &= chunk == payload[offset : offset + len(chunk)]
        offset += len(chunk)
        chunks += 1
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert written == size and offset == size and digest_ok
    assert chunks >= 5  # delivered piecewise, not as one buffer
    # A few chunks in flight at most: memory does not follow the object's size.
    assert peak < 4 * CHUNK_BYTES, peak


def test_exists_list_delete_and_delete_prefix(gcs_storage: GcsStorage) -> None:
    for key in ("jobs/j1/seg-0001.mp4", "jobs/j1/seg-0002.mp4", "jobs/j2/seg-0001.mp4"):
        gcs_storage.put_stream("enhanced", key, io.BytesIO(b"x" * 10))
    assert gcs_storage.list_keys("enhanced", "jobs/j1/") == ["jobs/j1/seg-0001.mp4", "jobs/j1/seg-0002.mp4"]
    assert gcs_storage.exists("enhanced", "jobs/j2/seg-0001.mp4")

    gcs_storage.delete_prefix("enhanced", "jobs/j1/")
    assert gcs_storage.list_keys("enhanced", "jobs/") == ["jobs/j2/seg-0001.mp4"]
    gcs_storage.delete("enhanced", "jobs/j2/seg-0001.mp4")
    gcs_storage.delete("enhanced", "jobs/j2/seg-0001.mp4")  # deleting a missing object is fine
    assert not gcs_storage.exists("enhanced", "jobs/j2/seg-0001.mp4")


def test_missing_objects_raise_not_found(gcs_storage: GcsStorage, tmp_path: Path) -> None:
    with pytest.raises(ObjectNotFound) as info:
        list(gcs_storage.open_read("raw", "no/such/object"))
    assert info.value.status_code == 404
    with pytest.raises(ObjectNotFound):
        gcs_storage.download_to("raw", "no/such/object", tmp_path / "x")
    assert not (tmp_path / "x").exists() and not (tmp_path / "x.partial").exists()


def test_refuses_to_delete_a_whole_bucket(gcs_storage: GcsStorage) -> None:
    gcs_storage.put_stream("raw", "keep/me", io.BytesIO(b"1"))
    with pytest.raises(Exception, match="whole storage area"):
        gcs_storage.delete_prefix("raw", "")
    assert gcs_storage.exists("raw", "keep/me")


def test_unreachable_endpoint_is_storage_unavailable(service_account_key: ServiceAccountKey) -> None:
    settings = gcs_settings_for(f"http://127.0.0.1:{free_port()}", service_account_key)
    dead = GcsStorage.from_settings(settings, retry_timeout_seconds=1)
    with pytest.raises(StorageUnavailable) as info:
        dead.check_ready()
    assert info.value.status_code == 503
    with pytest.raises(StorageUnavailable):
        dead.size("raw", "anything")


def test_check_ready_passes_on_a_live_emulator(gcs_storage: GcsStorage) -> None:
    gcs_storage.check_ready()


def test_signed_upload_then_signed_download_over_http(gcs_storage: GcsStorage) -> None:
    body = os.urandom(4096)
    upload = gcs_storage.signed_upload_url(
        "raw", "users/u/videos/v/source.mp4", content_type="video/mp4", size_bytes=len(body), ttl_seconds=900
    )
    assert upload.method == "PUT"
    assert upload.headers == {"Content-Type": "video/mp4", "x-goog-content-length-range": f"0,{len(body)}"}
    response = requests.put(upload.url, data=body, headers=upload.headers, timeout=30)
    assert response.status_code == 200, response.text
    assert gcs_storage.size("raw", "users/u/videos/v/source.mp4") == len(body)

    download = gcs_storage.signed_download_url(
        "raw", "users/u/videos/v/source.mp4", ttl_seconds=3600, filename="holiday.mp4"
    )
    response = requests.get(download.url, timeout=30)
    assert response.status_code == 200
    assert response.content == body


def test_signed_upload_rejects_non_positive_size(gcs_storage: GcsStorage) -> None:
    with pytest.raises(Exception, match="positive"):
        gcs_storage.signed_upload_url("raw", "k", content_type="video/mp4", size_bytes=0, ttl_seconds=60)
