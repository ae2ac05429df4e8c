"""`models download`: a local HTTP server stands in for the release host (no network here)."""

from __future__ import annotations

import hashlib
import re
import threading
from collections.abc import Iterator
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from video_enhancer.cli import build_parser
from video_enhancer.enhancers.weights import PUBLISHED_WEIGHTS

CONTENT = b"not really weights, but bytes with a known digest\n" * 1000


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        return None


@pytest.fixture
def file_server(tmp_path: Path) -> Iterator[str]:
    served = tmp_path / "served"
    served.mkdir()
    (served / "weights.pth").write_bytes(CONTENT)
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(_QuietHandler, directory=str(served)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def _run(argv: list[str]) -> int:
    args = build_parser().parse_args(argv)
    return int(args.handler(args))


def test_download_keeps_a_file_whose_checksum_matches_and_prints_the_settings(
    file_server: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    digest = hashlib.sha256(CONTENT).hexdigest()
    folder = tmp_path / "models"
    argv = ["models", "download", "realesr-general-x4v3", "--dir", str(folder)]
    assert _run([*argv, "--url", f"{file_server}/weights.pth", "--sha256", digest]) == 0
    assert (folder / "realesr-general-x4v3.pth").read_bytes() == CONTENT
    assert list(folder.iterdir()) == [folder / "realesr-general-x4v3.pth"]
    out = capsys.readouterr().out
    assert out.strip() == f"VE_ENHANCER=realesr-general-x4v3 VE_MODELS_DIR={folder.resolve()}"


def test_a_file_that_does_not_match_the_published_checksum_is_not_kept(
    file_server: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "models"
    argv = ["models", "download", "realesrgan-x4plus", "--dir", str(folder)]
    assert _run([*argv, "--url", f"{file_server}/weights.pth"]) == 1
    captured = capsys.readouterr()
    assert "WEIGHTS_CHECKSUM_MISMATCH" in captured.err and captured.out == ""
    assert PUBLISHED_WEIGHTS["realesrgan-x4plus"].sha256 in captured.err
    assert list(folder.iterdir()) == []  # neither the file nor its .part


def test_a_failed_download_says_so(
    file_server: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["models", "download", "realesrgan-x4plus", "--dir", str(tmp_path / "models")]
    assert _run([*argv, "--url", f"{file_server}/missing.pth"]) == 1
    assert "WEIGHTS_DOWNLOAD_FAILED" in capsys.readouterr().err
    assert list((tmp_path / "models").iterdir()) == []


@pytest.mark.parametrize("name", list(PUBLISHED_WEIGHTS))
def test_every_published_file_is_checked_against_its_recorded_digest(
    name: str, file_server: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    weights = PUBLISHED_WEIGHTS[name]
    assert re.fullmatch(r"[0-9a-f]{64}", weights.sha256) and weights.size_bytes > 0
    folder = tmp_path / "models"
    argv = ["models", "download", name, "--dir", str(folder), "--url", f"{file_server}/weights.pth"]
    assert _run(argv) == 1
    error = capsys.readouterr().err
    assert "WEIGHTS_CHECKSUM_MISMATCH" in error and weights.sha256 in error
    assert list(folder.iterdir()) == []


def test_list_names_every_published_file_with_its_source_and_licence(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert _run(["models", "list"]) == 0
    out = capsys.readouterr().out
    for weights in PUBLISHED_WEIGHTS.values():
        assert weights.filename in out and weights.licence in out and weights.sha256 in out
