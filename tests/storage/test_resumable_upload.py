"""Resumable uploads on the local backend: pieces with Content-Range, the offset query, and a
connection cut at 90 % that resumes where it broke (a real uvicorn server and a raw socket)."""

from __future__ import annotations

import hashlib
import os
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from fastapi.testclient import TestClient

from video_enhancer.models import Plan
from video_enhancer.storage.local import LocalStorage
from video_helpers import local_path, new_user, ticket

TOTAL = 4 * 1024 * 1024 + 123  # a few MiB, not a multiple of the write chunk


def _storage(app: FastAPI) -> LocalStorage:
    storage = app.state.storage
    assert isinstance(storage, LocalStorage)
    return storage


def _resumable(
    client: TestClient, size: int = TOTAL, plan: Plan = Plan.CREATOR
) -> tuple[dict[str, Any], dict[str, str]]:
    headers = new_user(client, plan)
    upload = ticket(client, headers, sizeBytes=size, resumable=True)
    assert upload["uploadProtocol"] == "resumable" and upload["uploadHeaders"] == {}
    return upload, headers


def _put(
    client: TestClient, upload: dict[str, Any], content: bytes, content_range: str | None
) -> httpx.Response:
    headers = {"Content-Range": content_range} if content_range else {}
    return client.put(local_path(upload["uploadUrl"]), content=content, headers=headers)


def _offset(response: httpx.Response) -> int:
    assert response.status_code == 308, response.text
    header = response.headers.get("Range")
    return 0 if header is None else int(header.rsplit("-", 1)[1]) + 1


def test_pieces_arrive_and_the_last_one_queues_the_job(client: TestClient, app: FastAPI) -> None:
    data = os.urandom(TOTAL)
    upload, _ = _resumable(client)
    assert _offset(_put(client, upload, b"", f"bytes */{TOTAL}")) == 0
    assert _offset(_put(client, upload, data[:1_000_000], f"bytes 0-999999/{TOTAL}")) == 1_000_000
    assert _offset(_put(client, upload, b"", f"bytes */{TOTAL}")) == 1_000_000
    # An overlapping piece (a retry of bytes already held) is accepted; the overlap is skipped.
    assert _offset(_put(client, upload, data[500_000:3_000_000], "bytes 500000-2999999/*")) == 3_000_000
    last = _put(client, upload, data[3_000_000:], f"bytes 3000000-{TOTAL - 1}/{TOTAL}")
    assert last.status_code == 200, last.text
    assert last.json()["jobStatus"] == "QUEUED" and last.json()["sizeBytes"] == TOTAL
    stored = b"".join(_storage(app).open_read("raw", _key(upload)))
    assert hashlib.sha256(stored).digest() == hashlib.sha256(data).digest()


def _key(upload: dict[str, Any]) -> str:
    return parse_qs(urlsplit(upload["uploadUrl"]).query)["key"][0]


def test_a_whole_file_without_content_range(client: TestClient) -> None:
    upload, _ = _resumable(client, size=10)
    response = _put(client, upload, b"0123456789", None)
    assert response.status_code == 200 and response.json()["jobStatus"] == "QUEUED"


def test_a_piece_beyond_the_received_bytes_is_refused(client: TestClient) -> None:
    upload, _ = _resumable(client, size=100)
    assert _offset(_put(client, upload, b"a" * 10, "bytes 0-9/100")) == 10
    gap = _put(client, upload, b"b" * 10, "bytes 20-29/100")
    assert gap.status_code == 409 and gap.json()["error"]["code"] == "UPLOAD_OFFSET_MISMATCH"
    assert gap.headers["Range"] == "bytes=0-9"


@pytest.mark.parametrize(
    "content_range",
    [
        "bytes 0-9/99",
        "bytes */101",
        "bytes 5-4/100",
        "bytes 0-100/100",
        "items 0-9/100",
        "bytes=0-9/100",
        "bytes 0-" + "9" * 5000 + "/100",
    ],
)
def test_a_malformed_or_foreign_content_range_is_400(client: TestClient, content_range: str) -> None:
    upload, _ = _resumable(client, size=100)
    response = _put(client, upload, b"a" * 10, content_range)
    assert response.status_code == 400 and response.json()["error"]["code"] == "INVALID_CONTENT_RANGE"


def test_a_body_longer_than_its_piece_is_refused(client: TestClient) -> None:
    upload, _ = _resumable(client, size=100)
    response = _put(client, upload, b"a" * 20, "bytes 0-9/100")
    assert response.status_code == 400 and response.json()["error"]["code"] == "INVALID_CONTENT_RANGE"


def test_single_put_and_resumable_urls_are_not_interchangeable(client: TestClient) -> None:
    headers = new_user(client, Plan.CREATOR)
    single = ticket(client, headers, sizeBytes=10)
    resumable_path = local_path(single["uploadUrl"]).replace("/storage/upload?", "/storage/upload/resumable?")
    response = client.put(resumable_path, content=b"0123456789")
    assert response.status_code == 403 and response.json()["error"]["code"] == "SIGNATURE_INVALID"


def test_a_second_writer_waits_for_the_first(client: TestClient, app: FastAPI) -> None:
    upload, _ = _resumable(client, size=100)
    with _storage(app).open_resumable("raw", _key(upload)):
        busy = _put(client, upload, b"a" * 10, "bytes 0-9/100")
    assert busy.status_code == 409 and busy.json()["error"]["code"] == "UPLOAD_IN_PROGRESS"
    assert _offset(_put(client, upload, b"a" * 10, "bytes 0-9/100")) == 10


def test_a_canceled_upload_takes_no_more_pieces(client: TestClient) -> None:
    upload, headers = _resumable(client, size=100)
    assert client.post(f"/jobs/{upload['jobId']}/cancel", headers=headers).status_code == 200
    response = _put(client, upload, b"a" * 10, "bytes 0-9/100")
    assert response.status_code == 409 and response.json()["error"]["code"] == "INVALID_STATE"


def test_renewed_resumable_url_continues_the_same_upload(client: TestClient) -> None:
    upload, headers = _resumable(client, size=100)
    assert _offset(_put(client, upload, b"a" * 40, "bytes 0-39/100")) == 40
    renewed = client.post(
        f"/videos/{upload['videoId']}/upload-url", json={"resumable": True}, headers=headers
    )
    assert renewed.status_code == 200 and renewed.json()["uploadProtocol"] == "resumable"
    assert _offset(_put(client, renewed.json(), b"", "bytes */100")) == 40


# A real server, a real connection cut


@pytest.fixture
def server_port(app: FastAPI) -> Iterator[int]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, lifespan="off")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    yield port
    server.should_exit = True
    thread.join(timeout=10)


def _send_and_cut(port: int, path: str, data: bytes, cut_at: int) -> None:
    """Start a PUT of the whole file, send `cut_at` bytes, then drop the connection."""
    head = (
        f"PUT {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Length: {len(data)}\r\n"
        f"Content-Range: bytes 0-{len(data) - 1}/{len(data)}\r\n\r\n"
    ).encode()
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.sendall(head)
        view = memoryview(data)[:cut_at]
        for start in range(0, cut_at, 64 * 1024):
            sock.sendall(view[start : start + 64 * 1024])
    # Leaving the block closes the socket mid-body: the server sees the client disconnect.


def _settled_offset(http: httpx.Client, path: str, total: int) -> int:
    """The server's offset once the cut request has finished writing (it stops changing)."""
    last, deadline = -1, time.monotonic() + 10
    while time.monotonic() < deadline:
        offset = _offset(http.put(path, headers={"Content-Range": f"bytes */{total}"}))
        if offset == last:
            return offset
        last = offset
        time.sleep(0.2)
    raise AssertionError("the offset never settled")


def test_a_cut_at_90_percent_resumes_from_90_percent(
    client: TestClient, app: FastAPI, server_port: int
) -> None:
    data = os.urandom(TOTAL)
    upload, _ = _resumable(client)
    path = local_path(upload["uploadUrl"])
    cut_at = TOTAL * 9 // 10
    _send_and_cut(server_port, path, data, cut_at)
    with httpx.Client(base_url=f"http://127.0.0.1:{server_port}", timeout=30) as http:
        offset = _settled_offset(http, path, TOTAL)
        resent = cut_at - offset
        print(
            f"\nresumable upload: cut after {cut_at} of {TOTAL} bytes; server held {offset}; re-sent {resent}"
        )
        assert offset == cut_at  # every byte that reached the server was kept
        done = http.put(
            path, content=data[offset:], headers={"Content-Range": f"bytes {offset}-{TOTAL - 1}/{TOTAL}"}
        )
    assert done.status_code == 200, done.text
    assert done.json()["jobStatus"] == "QUEUED"
    stored = b"".join(_storage(app).open_read("raw", _key(upload)))
    assert stored == data
