"""Request bodies are bounded before anything parses them (issue: one 12 MB body of a million
JSON keys once stalled every request for about 16 s).

The attack runs against a real uvicorn server started on a free port, while another client keeps
asking `/healthz`: the server must refuse the body with 413 and keep answering within a second.
"""

from __future__ import annotations

import os
import socket
import statistics
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from api.live_server import UVICORN_FACTORY, live_server

ATTACK_KEYS = 1_000_000
HEALTHZ_BUDGET_SECONDS = 1.0


def _million_keys_body() -> bytes:
    body = b"{" + b",".join(b'"key%07d":0' % i for i in range(ATTACK_KEYS)) + b"}"
    assert len(body) > 12_000_000
    return body


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path) -> Iterator[str]:
    """`uvicorn video_enhancer.app:create_app` in its own process."""
    with live_server(tmp_path_factory.mktemp("body-limit"), sqlite_template, UVICORN_FACTORY) as base:
        yield base


class HealthzProbe:
    """Another client asking `/healthz` every 20 ms on its own connection, recording latencies."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.latencies: list[float] = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        with httpx.Client(timeout=5) as client:
            while not self.stop.is_set():
                started = time.perf_counter()
                try:
                    client.get(f"{self.base}/healthz").raise_for_status()
                    self.latencies.append(time.perf_counter() - started)
                except httpx.HTTPError:
                    self.latencies.append(float("inf"))
                time.sleep(0.02)

    def __enter__(self) -> HealthzProbe:
        self.thread.start()
        time.sleep(0.3)
        return self

    def __exit__(self, *_exc: object) -> None:
        time.sleep(0.3)  # whatever the server still does with the body, it does it now
        self.stop.set()
        self.thread.join(timeout=10)


def _send_raw(base: str, head: bytes, body_parts: Iterator[bytes]) -> bytes:
    """Send a request by hand (the body may be cut off by the server) and return what came back."""
    host, port = base.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=30) as connection:
        try:
            connection.sendall(head)
            for part in body_parts:
                connection.sendall(part)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server answered and closed before taking the whole body
        return _read_response(connection)


def _read_response(connection: socket.socket) -> bytes:
    received = b""
    try:
        while chunk := connection.recv(65536):
            received += chunk
            if b"\r\n\r\n" in received and received.endswith(b"}"):
                break
    except (ConnectionResetError, TimeoutError):
        pass
    return received


def _with_length(body: bytes) -> tuple[bytes, Iterator[bytes]]:
    head = (
        b"POST /auth/login HTTP/1.1\r\nHost: api\r\nContent-Type: application/json\r\n"
        b"Content-Length: %d\r\n\r\n" % len(body)
    )
    return head, (body[i : i + 65536] for i in range(0, len(body), 65536))


def _chunked(body: bytes) -> tuple[bytes, Iterator[bytes]]:
    head = (
        b"POST /auth/login HTTP/1.1\r\nHost: api\r\nContent-Type: application/json\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n"
    )

    def parts() -> Iterator[bytes]:
        for i in range(0, len(body), 65536):
            piece = body[i : i + 65536]
            yield b"%x\r\n%s\r\n" % (len(piece), piece)
        yield b"0\r\n\r\n"

    return head, parts()


@pytest.mark.parametrize("framing", [_with_length, _chunked], ids=["content-length", "chunked"])
def test_a_million_keys_body_is_refused_while_healthz_keeps_answering(server: str, framing: object) -> None:
    head, parts = framing(_million_keys_body())  # type: ignore[operator]

    with HealthzProbe(server) as probe:
        response = _send_raw(server, head, parts)

    status_line = response.split(b"\r\n", 1)[0]
    assert status_line.startswith(b"HTTP/1.1 413"), response[:300]
    assert b'"code":"BODY_TOO_LARGE"' in response
    worst = max(probe.latencies)
    print(
        f"\n/healthz during the attack ({framing.__name__}): {len(probe.latencies)} requests, "  # type: ignore[attr-defined]
        f"median {statistics.median(probe.latencies) * 1000:.1f} ms, max {worst * 1000:.1f} ms"
    )
    assert worst < HEALTHZ_BUDGET_SECONDS


def test_ordinary_bodies_still_pass_after_the_attack(server: str) -> None:
    account = {"email": "after@example.com", "password": "correct horse battery staple"}
    with httpx.Client(base_url=server, timeout=30) as client:
        assert client.post("/auth/register", json=account).status_code == 201
        assert client.post("/auth/login", json=account).status_code == 200


def test_a_body_over_the_limit_gets_the_error_shape(client: TestClient) -> None:
    limit = client.app.state.settings.max_json_body_bytes  # type: ignore[attr-defined]
    body = b'{"email":"a@example.com","password":"' + b"x" * limit + b'"}'

    response = client.post("/auth/register", content=body, headers={"Content-Type": "application/json"})

    assert response.status_code == 413
    assert response.json() == {
        "error": {"code": "BODY_TOO_LARGE", "message": f"The request body is larger than {limit} bytes."}
    }


def test_a_streamed_body_over_the_limit_is_cut_off(client: TestClient) -> None:
    def parts() -> Iterator[bytes]:
        for _ in range(200):
            yield b" " * 1024

    response = client.post("/auth/refresh", content=parts(), headers={"Content-Type": "application/json"})

    assert response.status_code == 413
    assert response.json()["error"]["code"] == "BODY_TOO_LARGE"


def test_unknown_keys_under_the_limit_answer_one_short_validation_error(client: TestClient) -> None:
    body = {"email": "a@example.com", "password": "x" * 10, **{f"k{i}": 0 for i in range(3000)}}

    response = client.post("/auth/login", json=body)

    assert response.status_code == 422
    assert response.json()["error"]["code"] == "VALIDATION_ERROR"
    assert len(response.content) < 300


def test_uploads_through_signed_urls_are_not_bound_by_the_json_limit(client: TestClient) -> None:
    storage = client.app.state.storage  # type: ignore[attr-defined]
    size = client.app.state.settings.max_json_body_bytes * 3  # type: ignore[attr-defined]
    signed = storage.signed_upload_url(
        "enhanced", "limits/big.mp4", content_type="video/mp4", size_bytes=size, ttl_seconds=60
    )

    response = client.put(signed.url, content=os.urandom(size), headers=signed.headers)

    assert response.status_code == 200, response.text
    assert storage.size("enhanced", "limits/big.mp4") == size
