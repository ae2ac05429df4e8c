"""LocalStorage over a real folder: areas apart, keys confined, writes atomic, URLs signed."""

from __future__ import annotations

import io
import os
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from video_enhancer.storage.base import Storage
from video_enhancer.storage.local import (
    InvalidKey,
    LocalStorage,
    ObjectNotFound,
    download_fields,
    upload_fields,
)
from video_enhancer.storage.signing import SignatureInvalid, UrlExpired, UrlSigner


@pytest.fixture
def storage(tmp_path: Path) -> LocalStorage:
    return LocalStorage(tmp_path / "root", "test-signing-secret", "http://api.example")


def _query(url: str) -> dict[str, str]:
    return {name: values[0] for name, values in parse_qs(urlsplit(url).query).items()}


def test_implements_the_storage_protocol(storage: LocalStorage) -> None:
    assert isinstance(storage, Storage)


def test_raw_and_enhanced_areas_are_kept_apart(storage: LocalStorage) -> None:
    storage.put_stream("raw", "users/u/a.mp4", io.BytesIO(b"raw bytes"))
    storage.put_stream("enhanced", "users/u/a.mp4", io.BytesIO(b"enhanced!"))
    assert b"".join(storage.open_read("raw", "users/u/a.mp4")) == b"raw bytes"
    assert b"".join(storage.open_read("enhanced", "users/u/a.mp4")) == b"enhanced!"
    assert storage.path_for("raw", "x").parent != storage.path_for("enhanced", "x").parent


@pytest.mark.parametrize(
    "key",
    [
        "../escape",
        "a/../../b",
        "/etc/passwd",
        "a//b",
        ".hidden",
        "a/.git/x",
        "a\\..\\b",
        "",
        "a/",
        "a\x00b",
        "x" * 1100,
    ],
)
def test_keys_that_could_leave_the_area_are_refused(storage: LocalStorage, key: str) -> None:
    with pytest.raises(InvalidKey):
        storage.put_stream("raw", key, io.BytesIO(b"x"))
    with pytest.raises(InvalidKey):
        storage.signed_upload_url("raw", key, content_type="video/mp4", size_bytes=1, ttl_seconds=60)


def test_unknown_area_is_refused(storage: LocalStorage) -> None:
    with pytest.raises(InvalidKey):
        storage.exists("public", "a")  # type: ignore[arg-type]


def test_a_symlink_out_of_the_area_is_refused(storage: LocalStorage, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret").write_bytes(b"secret")
    os.symlink(outside, storage.root / "raw" / "link")
    with pytest.raises(InvalidKey):
        storage.open_read("raw", "link/secret")


def test_an_aborted_write_leaves_nothing_behind(storage: LocalStorage) -> None:
    with pytest.raises(RuntimeError), storage.begin_write("raw", "a/b.mp4") as write:
        write.write(b"partial")
        raise RuntimeError("client went away")
    assert not storage.exists("raw", "a/b.mp4")
    assert list((storage.root / ".tmp").iterdir()) == []


def test_a_write_is_invisible_until_committed(storage: LocalStorage) -> None:
    with storage.begin_write("raw", "a/b.mp4") as write:
        write.write(b"abc")
        assert not storage.exists("raw", "a/b.mp4")
        write.commit()
    assert storage.size("raw", "a/b.mp4") == 3
    assert list((storage.root / ".tmp").iterdir()) == []


def test_overwrite_replaces_the_whole_object(storage: LocalStorage) -> None:
    storage.put_stream("raw", "k", io.BytesIO(b"long original content"))
    storage.put_stream("raw", "k", io.BytesIO(b"short"))
    assert b"".join(storage.open_read("raw", "k")) == b"short"


def test_put_file_download_to_size_and_ranges(storage: LocalStorage, tmp_path: Path) -> None:
    source = tmp_path / "source.bin"
    data = os.urandom(3 * 1024 * 1024 + 17)  # several read chunks
    source.write_bytes(data)
    storage.put_file("enhanced", "jobs/j/out.mp4", source)
    assert storage.size("enhanced", "jobs/j/out.mp4") == len(data)
    destination = tmp_path / "copy" / "out.mp4"
    storage.download_to("enhanced", "jobs/j/out.mp4", destination)
    assert destination.read_bytes() == data
    assert b"".join(storage.open_read("enhanced", "jobs/j/out.mp4", 1000, 2_000_000)) == data[1000:2_001_000]
    assert storage.size("enhanced", "missing") is None
    with pytest.raises(ObjectNotFound):
        storage.open_read("enhanced", "missing")


def test_delete_list_and_delete_prefix(storage: LocalStorage) -> None:
    for key in ("jobs/1/seg-0.mp4", "jobs/1/seg-1.mp4", "jobs/10/seg-0.mp4", "jobs/2/seg-0.mp4"):
        storage.put_stream("raw", key, io.BytesIO(b"s"))
    assert storage.list_keys("raw", "jobs/1/") == ["jobs/1/seg-0.mp4", "jobs/1/seg-1.mp4"]
    storage.delete_prefix("raw", "jobs/1/")
    assert storage.list_keys("raw", "jobs/") == ["jobs/10/seg-0.mp4", "jobs/2/seg-0.mp4"]
    storage.delete("raw", "jobs/2/seg-0.mp4")
    storage.delete("raw", "jobs/2/seg-0.mp4")  # deleting a missing object is not an error
    assert storage.list_keys("raw", "jobs/") == ["jobs/10/seg-0.mp4"]
    with pytest.raises(InvalidKey):
        storage.delete_prefix("raw", "/")


def test_signed_upload_url_covers_every_field(storage: LocalStorage) -> None:
    signed = storage.signed_upload_url(
        "raw", "a/b.mp4", content_type="video/mp4", size_bytes=42, ttl_seconds=600
    )
    assert signed.method == "PUT" and signed.headers == {"Content-Type": "video/mp4"}
    assert signed.url.startswith("http://api.example/storage/upload?")
    query = _query(signed.url)
    assert int(query["expires"]) == int(signed.expires_at.timestamp())
    fields = upload_fields("raw", "a/b.mp4", int(query["expires"]), "video/mp4", 42)
    storage.signer.verify(fields, query["signature"])
    for name, value in (
        ("key", "a/c.mp4"),
        ("size", "43"),
        ("contentType", "video/webm"),
        ("area", "enhanced"),
    ):
        with pytest.raises(SignatureInvalid):
            storage.signer.verify({**fields, name: value}, query["signature"])
    with pytest.raises(SignatureInvalid):  # a PUT signature is no GET signature
        storage.signer.verify({**fields, "method": "GET"}, query["signature"])


def test_signed_urls_expire(storage: LocalStorage) -> None:
    signed = storage.signed_download_url("enhanced", "a.mp4", ttl_seconds=60, filename="a.mp4")
    query = _query(signed.url)
    fields = download_fields("enhanced", "a.mp4", int(query["expires"]), "a.mp4")
    storage.signer.verify(fields, query["signature"])
    with pytest.raises(UrlExpired):
        storage.signer.verify(fields, query["signature"], now=datetime.now(UTC) + timedelta(seconds=61))


def test_a_different_secret_does_not_verify(storage: LocalStorage) -> None:
    fields = download_fields("enhanced", "a.mp4", int(time.time()) + 60, "")
    with pytest.raises(SignatureInvalid):
        UrlSigner("another-secret").verify(fields, storage.signer.sign(fields))


@pytest.mark.parametrize("signature", ["", "é" * 64, "\udc80", "0" * 64])
def test_garbage_signatures_are_invalid_not_errors(storage: LocalStorage, signature: str) -> None:
    fields = download_fields("enhanced", "a.mp4", int(time.time()) + 60, "")
    with pytest.raises(SignatureInvalid):
        storage.signer.verify(fields, signature)


def test_stale_partial_uploads_are_removed(storage: LocalStorage) -> None:
    write = storage.begin_write("raw", "a.mp4")
    write.write(b"abandoned")
    removed_now = storage.remove_stale_partials(timedelta(hours=1))
    removed_later = storage.remove_stale_partials(
        timedelta(hours=1), now=datetime.now(UTC) + timedelta(hours=2)
    )
    assert (removed_now, removed_later) == (0, 1)
    write.abort()


def test_check_ready_reports_an_unwritable_folder(storage: LocalStorage) -> None:
    storage.check_ready()
    (storage.root / "raw").rename(storage.root / "moved")
    with pytest.raises(Exception, match="not writable"):
        storage.check_ready()
