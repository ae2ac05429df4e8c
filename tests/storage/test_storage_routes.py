"""The signed upload and download endpoints of the local backend, through the real app."""

from __future__ import annotations

import io
import os
import uuid
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import anyio
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from video_enhancer.models import Job, JobStatus, Video
from video_enhancer.storage.local import LocalStorage
from video_helpers import local_path, new_user, put_upload, ticket


def _storage(app: FastAPI) -> LocalStorage:
    storage = app.state.storage
    assert isinstance(storage, LocalStorage)
    return storage


def _with(url: str, **changes: str) -> str:
    parts = urlsplit(url)
    query = {name: values[0] for name, values in parse_qs(parts.query).items()}
    query.update(changes)
    return f"{parts.path}?{urlencode(query)}"


def _job(session: Session, upload: dict[str, Any]) -> Job:
    job = session.get(Job, uuid.UUID(upload["jobId"]))
    assert job is not None
    session.refresh(job)
    session.commit()  # end the read: on SQLite an open transaction holds the write lock
    return job


@pytest.fixture
def owner(client: TestClient) -> dict[str, str]:
    return new_user(client)


@pytest.fixture
def upload(client: TestClient, owner: dict[str, str]) -> dict[str, Any]:
    return ticket(client, owner, sizeBytes=4096)


def test_upload_stores_the_bytes_and_queues_the_job(
    client: TestClient, app: FastAPI, session: Session, upload: dict[str, Any]
) -> None:
    data = os.urandom(4096)
    response = put_upload(client, upload, data)
    assert response.status_code == 200, response.text
    assert response.json()["jobStatus"] == "QUEUED"
    video = session.get(Video, uuid.UUID(upload["videoId"]))
    assert video is not None and video.uploaded_at is not None
    assert b"".join(_storage(app).open_read("raw", video.storage_path)) == data
    assert _job(session, upload).status == JobStatus.QUEUED


@pytest.mark.parametrize(
    ("change", "value"),
    [
        ("key", "users/x/videos/y/source.mp4"),
        ("size", "5000"),
        ("contentType", "video/webm"),
        ("signature", "0" * 64),
    ],
)
def test_tampered_upload_urls_are_refused(
    client: TestClient, session: Session, upload: dict[str, Any], change: str, value: str
) -> None:
    headers = {"Content-Type": "video/webm"} if change == "contentType" else upload["uploadHeaders"]
    response = client.put(_with(upload["uploadUrl"], **{change: value}), content=b"x" * 4096, headers=headers)
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "SIGNATURE_INVALID"
    assert _job(session, upload).status == JobStatus.AWAITING_UPLOAD


def test_expired_upload_url_is_refused(client: TestClient, app: FastAPI, upload: dict[str, Any]) -> None:
    query = parse_qs(urlsplit(upload["uploadUrl"]).query)
    signed = _storage(app).signed_upload_url(
        "raw", query["key"][0], content_type="video/mp4", size_bytes=4096, ttl_seconds=-5
    )
    response = client.put(local_path(signed.url), content=b"x" * 4096, headers=signed.headers)
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "URL_EXPIRED"


def test_a_later_expiry_is_tampering_not_a_renewal(client: TestClient, upload: dict[str, Any]) -> None:
    expires = int(parse_qs(urlsplit(upload["uploadUrl"]).query)["expires"][0]) + 3600
    response = put_upload(
        client, {**upload, "uploadUrl": _with(upload["uploadUrl"], expires=str(expires))}, b"x"
    )
    assert response.json()["error"]["code"] == "SIGNATURE_INVALID"


def test_upload_url_used_for_a_download_is_refused(client: TestClient, upload: dict[str, Any]) -> None:
    response = client.get(_with(upload["uploadUrl"]).replace("/storage/upload", "/storage/download"))
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "SIGNATURE_INVALID"


def test_content_type_must_match_the_signed_one(client: TestClient, upload: dict[str, Any]) -> None:
    response = put_upload(client, upload, b"x" * 4096, **{"Content-Type": "application/octet-stream"})
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "SIGNATURE_INVALID"


def test_more_bytes_than_signed_is_413_and_nothing_is_kept(
    client: TestClient, app: FastAPI, session: Session, upload: dict[str, Any]
) -> None:
    response = put_upload(client, upload, b"x" * 4097)
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "UPLOAD_TOO_LARGE"
    _assert_nothing_stored(app, session, upload)


def test_a_body_streamed_past_the_size_is_cut_off(
    client: TestClient, app: FastAPI, session: Session, upload: dict[str, Any]
) -> None:
    def body() -> Any:  # chunked: no Content-Length to reject up front
        for _ in range(10):
            yield b"y" * 1000

    response = client.put(local_path(upload["uploadUrl"]), content=body(), headers=upload["uploadHeaders"])
    assert response.status_code == 413
    _assert_nothing_stored(app, session, upload)


def test_fewer_bytes_than_declared_is_a_size_mismatch(
    client: TestClient, app: FastAPI, session: Session, upload: dict[str, Any]
) -> None:
    response = put_upload(client, upload, b"x" * 100)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "SIZE_MISMATCH"
    _assert_nothing_stored(app, session, upload)


def _assert_nothing_stored(app: FastAPI, session: Session, upload: dict[str, Any]) -> None:
    storage = _storage(app)
    video = session.get(Video, uuid.UUID(upload["videoId"]))
    assert video is not None
    assert not storage.exists("raw", video.storage_path)
    assert list((storage.root / ".tmp").iterdir()) == []
    assert _job(session, upload).status == JobStatus.AWAITING_UPLOAD


def test_a_second_upload_after_queueing_is_refused(
    client: TestClient, app: FastAPI, upload: dict[str, Any]
) -> None:
    first = os.urandom(4096)
    assert put_upload(client, upload, first).status_code == 200
    response = put_upload(client, upload, os.urandom(4096))
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "INVALID_STATE"
    key = parse_qs(urlsplit(upload["uploadUrl"]).query)["key"][0]
    assert b"".join(_storage(app).open_read("raw", key)) == first


def test_upload_for_a_deleted_video_is_refused(
    client: TestClient, owner: dict[str, str], upload: dict[str, Any]
) -> None:
    assert client.delete(f"/videos/{upload['videoId']}", headers=owner).status_code == 204
    response = put_upload(client, upload, b"x" * 4096)
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "NOT_FOUND"


# Downloads

DATA = bytes(range(256)) * 40  # 10240 bytes


@pytest.fixture
def download_url(app: FastAPI) -> str:
    storage = _storage(app)
    storage.put_stream("enhanced", "users/u/videos/v/enhanced.mp4", io.BytesIO(DATA))
    signed = storage.signed_download_url(
        "enhanced", "users/u/videos/v/enhanced.mp4", ttl_seconds=60, filename="a.mp4"
    )
    return local_path(signed.url)


def test_download_whole_object(client: TestClient, download_url: str) -> None:
    response = client.get(download_url)
    assert response.status_code == 200
    assert response.content == DATA
    assert response.headers["accept-ranges"] == "bytes"
    assert response.headers["content-length"] == str(len(DATA))
    assert response.headers["content-type"] == "video/mp4"
    assert 'filename="a.mp4"' in response.headers["content-disposition"]


@pytest.mark.parametrize(
    ("header", "start", "end"),
    [
        ("bytes=0-0", 0, 0),
        ("bytes=10-19", 10, 19),
        ("bytes=10000-", 10000, 10239),
        ("bytes=-5", 10235, 10239),
        ("bytes=10200-99999", 10200, 10239),
        ("bytes=-99999", 0, 10239),
    ],
)
def test_download_range(client: TestClient, download_url: str, header: str, start: int, end: int) -> None:
    response = client.get(download_url, headers={"Range": header})
    assert response.status_code == 206
    assert response.content == DATA[start : end + 1]
    assert response.headers["content-range"] == f"bytes {start}-{end}/{len(DATA)}"
    assert response.headers["content-length"] == str(end - start + 1)


@pytest.mark.parametrize("header", ["bytes=10240-", "bytes=20000-20010", "bytes=-0"])
def test_unsatisfiable_range_is_416(client: TestClient, download_url: str, header: str) -> None:
    response = client.get(download_url, headers={"Range": header})
    assert response.status_code == 416
    assert response.headers["content-range"] == f"bytes */{len(DATA)}"
    assert response.json()["error"]["code"] == "RANGE_NOT_SATISFIABLE"


@pytest.mark.parametrize("header", ["items=0-5", "bytes=5-2", "bytes=0-1,5-6", "bytes=x-y"])
def test_malformed_or_multi_ranges_get_the_whole_object(
    client: TestClient, download_url: str, header: str
) -> None:
    response = client.get(download_url, headers={"Range": header})
    assert response.status_code == 200
    assert response.content == DATA


def test_expired_or_tampered_download_urls_are_refused(
    client: TestClient, app: FastAPI, download_url: str
) -> None:
    expired = _storage(app).signed_download_url("enhanced", "users/u/videos/v/enhanced.mp4", ttl_seconds=-1)
    assert client.get(local_path(expired.url)).json()["error"]["code"] == "URL_EXPIRED"
    other_key = _with(download_url, key="users/u/videos/v/other.mp4")
    assert client.get(other_key).json()["error"]["code"] == "SIGNATURE_INVALID"
    no_filename = _with(download_url, filename="evil.exe")
    assert client.get(no_filename).status_code == 403


def test_download_of_a_missing_object_is_404(client: TestClient, app: FastAPI) -> None:
    signed = _storage(app).signed_download_url("enhanced", "users/u/none.mp4", ttl_seconds=60)
    response = client.get(local_path(signed.url))
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "NOT_FOUND"


def test_a_client_that_disconnects_mid_upload_leaves_nothing(
    app: FastAPI, session: Session, upload: dict[str, Any]
) -> None:
    parts = urlsplit(upload["uploadUrl"])
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "PUT",
        "scheme": "http",
        "path": parts.path,
        "raw_path": parts.path.encode(),
        "query_string": parts.query.encode(),
        "headers": [(b"host", b"testserver"), (b"content-type", b"video/mp4"), (b"content-length", b"4096")],
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
    }
    incoming = [
        {"type": "http.request", "body": b"x" * 1000, "more_body": True},
        {"type": "http.disconnect"},
    ]
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return incoming.pop(0) if incoming else {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    anyio.run(app, scope, receive, send)
    assert sent[0]["status"] == 400
    assert b"UPLOAD_INTERRUPTED" in b"".join(m.get("body", b"") for m in sent)
    _assert_nothing_stored(app, session, upload)
