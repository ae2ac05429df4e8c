"""`HEAD` on signed downloads, and Range headers whose numbers cannot be converted cheaply."""

from __future__ import annotations

import io
import os

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from video_enhancer.storage.router import RangeNotSatisfiable, parse_range

SIZE = 10_000


@pytest.fixture
def download_url(app: FastAPI) -> str:
    storage = app.state.storage
    storage.put_stream("enhanced", "out/clip.mp4", io.BytesIO(os.urandom(SIZE)), "video/mp4")
    signed = storage.signed_download_url("enhanced", "out/clip.mp4", ttl_seconds=60, filename="clip.mp4")
    return str(signed.url)


def test_head_gives_the_headers_of_get_without_the_body(client: TestClient, download_url: str) -> None:
    head = client.head(download_url)
    get = client.get(download_url)

    assert head.status_code == get.status_code == 200
    assert head.content == b""
    for name in ("content-length", "content-type", "accept-ranges", "content-disposition"):
        assert head.headers[name] == get.headers[name], name
    assert head.headers["content-length"] == str(SIZE)


def test_head_of_a_range_answers_206_with_its_length(client: TestClient, download_url: str) -> None:
    response = client.head(download_url, headers={"Range": "bytes=100-199"})
    assert response.status_code == 206
    assert response.headers["content-range"] == f"bytes 100-199/{SIZE}"
    assert response.headers["content-length"] == "100"


def test_head_with_a_bad_signature_is_refused(client: TestClient, download_url: str) -> None:
    assert client.head(download_url.replace("signature=", "signature=0")).status_code in (400, 403)


@pytest.mark.parametrize(
    "header", ["bytes=-" + "9" * 5000, "bytes=" + "1" * 5000 + "-", "bytes=0-" + "7" * 40]
)
def test_a_range_with_thousands_of_digits_answers_416(
    client: TestClient, download_url: str, header: str
) -> None:
    response = client.get(download_url, headers={"Range": header})

    assert response.status_code == 416
    assert response.json()["error"]["code"] == "RANGE_NOT_SATISFIABLE"
    assert response.headers["content-range"] == f"bytes */{SIZE}"


def test_parse_range_bounds_the_digits_but_keeps_ordinary_ranges() -> None:
    assert parse_range("bytes=-500", SIZE) == (SIZE - 500, SIZE - 1)
    assert parse_range("bytes=0-" + "9" * 18, SIZE) == (0, SIZE - 1)
    with pytest.raises(RangeNotSatisfiable):
        parse_range("bytes=-" + "9" * 19, SIZE)
