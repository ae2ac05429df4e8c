"""`models download stream-diffvsr` and `raft-large` against a local fake hub (no network here).

The fake hub serves a tiny checkpoint in the published layout the way the model hub does: a
listing of one commit's files with their digests (SHA-256 for large files, git blob ids for the
others) and the files themselves under that commit.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlparse

import pytest

from stream_diffvsr.testing import write_random_raft_weights, write_tiny_checkpoint
from video_enhancer.cli import build_parser
from video_enhancer.enhancers.hub import RAFT_LARGE, STREAM_DIFFVSR_HUB_ID

COMMIT = "0123456789abcdef0123456789abcdef01234567"


def _blob_id(data: bytes) -> str:
    return hashlib.sha1(f"blob {len(data)}\0".encode() + data, usedforsecurity=False).hexdigest()


class FakeHub:
    """Files of one repository at one commit; ``tampered`` files are served with a byte changed."""

    def __init__(self, root: Path, raft: Path) -> None:
        self.files = {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}
        self.files["README.md"] = b"model card: not part of the checkpoint\n"
        self.raft = raft.read_bytes()
        self.tampered: set[str] = set()
        self.served: list[str] = []

    def listing(self) -> bytes:
        siblings = []
        for path, data in sorted(self.files.items()):
            if path.endswith((".safetensors", ".bin")):
                siblings.append(
                    {
                        "rfilename": path,
                        "size": len(data),
                        "lfs": {"sha256": hashlib.sha256(data).hexdigest(), "size": len(data)},
                    }
                )
            else:
                siblings.append({"rfilename": path, "size": len(data), "blobId": _blob_id(data)})
        return json.dumps({"id": STREAM_DIFFVSR_HUB_ID, "sha": COMMIT, "siblings": siblings}).encode()

    def answer(self, path: str) -> bytes | None:
        if path == f"/api/models/{STREAM_DIFFVSR_HUB_ID}/revision/main":
            return self.listing()
        if path == "/raft.pth":
            return self.raft
        prefix = f"/{STREAM_DIFFVSR_HUB_ID}/resolve/{COMMIT}/"
        if path.startswith(prefix) and path[len(prefix) :] in self.files:
            name = path[len(prefix) :]
            self.served.append(name)
            data = self.files[name]
            return data[:-1] + bytes([data[-1] ^ 1]) if name in self.tampered else data
        return None


@pytest.fixture(scope="module")
def published(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("published")
    return write_tiny_checkpoint(folder / "repo"), write_random_raft_weights(folder / "raft.pth")


@pytest.fixture
def hub(published: tuple[Path, Path]) -> Iterator[tuple[str, FakeHub]]:
    fake = FakeHub(*published)

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = fake.answer(urlparse(self.path).path)
            self.send_response(404 if body is None else 200)
            self.send_header("Content-Length", str(len(body or b"")))
            self.end_headers()
            self.wfile.write(body or b"")

        def log_message(self, format: str, *args: object) -> None:
            return None

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", fake
    server.shutdown()
    server.server_close()


def _run(argv: list[str]) -> int:
    args = build_parser().parse_args(argv)
    return int(args.handler(args))


def _download(url: str, fake: FakeHub, folder: Path) -> int:
    raft_digest = hashlib.sha256(fake.raft).hexdigest()
    return _run(
        [
            "models",
            "download",
            "stream-diffvsr",
            "--dir",
            str(folder),
            "--url",
            url,
            "--flow-url",
            f"{url}/raft.pth",
            "--flow-sha256",
            raft_digest,
        ]
    )


def test_the_checkpoint_is_fetched_verified_loaded_and_its_settings_printed(
    hub: tuple[str, FakeHub], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url, fake = hub
    folder = tmp_path / "models"
    assert _download(url, fake, folder) == 0
    model, raft = folder / "stream-diffvsr", folder / RAFT_LARGE.filename
    assert "README.md" not in fake.served and not (model / "README.md").exists()  # only the checkpoint
    assert all(
        (model / path).read_bytes() == data for path, data in fake.files.items() if path != "README.md"
    )
    assert raft.read_bytes() == fake.raft
    captured = capsys.readouterr()
    assert captured.out.strip() == (
        f"VE_ENHANCER=stream-diffvsr VE_MODEL_PATH={model.resolve()} VE_FLOW_WEIGHTS={raft.resolve()}"
    )
    assert COMMIT in captured.err and "loaded tensor by tensor" in captured.err


@pytest.mark.parametrize("tampered", ["unet/diffusion_pytorch_model.safetensors", "model_index.json"])
def test_a_file_that_differs_from_the_hub_digest_leaves_nothing(
    hub: tuple[str, FakeHub], tmp_path: Path, capsys: pytest.CaptureFixture[str], tampered: str
) -> None:
    url, fake = hub
    fake.tampered.add(tampered)  # a large file (SHA-256) and a small one (git blob id)
    folder = tmp_path / "models"
    assert _download(url, fake, folder) == 1
    captured = capsys.readouterr()
    assert "WEIGHTS_CHECKSUM_MISMATCH" in captured.err and tampered in captured.err and captured.out == ""
    assert list(folder.iterdir()) == []  # neither the folder nor its .part


def test_an_unreachable_hub_says_so(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["models", "download", "stream-diffvsr", "--dir", str(tmp_path), "--url", "http://127.0.0.1:9"]
    assert _run(argv) == 1
    assert "WEIGHTS_DOWNLOAD_FAILED" in capsys.readouterr().err


def test_raft_large_must_match_the_digest_torchvision_publishes(
    hub: tuple[str, FakeHub], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url, fake = hub
    argv = ["models", "download", "raft-large", "--dir", str(tmp_path), "--url", f"{url}/raft.pth"]
    assert _run(argv) == 1  # random weights do not start with ff5fadd5
    assert RAFT_LARGE.sha256_prefix in capsys.readouterr().err and list(tmp_path.iterdir()) == []
    assert _run([*argv, "--sha256", hashlib.sha256(fake.raft).hexdigest()]) == 0
    assert capsys.readouterr().out.strip() == f"VE_FLOW_WEIGHTS={(tmp_path / RAFT_LARGE.filename).resolve()}"
