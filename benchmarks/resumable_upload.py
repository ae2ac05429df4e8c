"""A resumable upload cut at 90 %, then resumed: how many bytes are sent again.

Starts the real API in a subprocess (uvicorn, SQLite, a temporary storage folder), asks for a
resumable upload of SIZE bytes, streams the file over a raw socket and closes the connection
once 90 % of it is sent (a phone losing its network), asks the server how many bytes it holds
(`Content-Range: bytes */SIZE` -> 308 `Range`), sends the rest, and checks the stored object.

    .venv/bin/python benchmarks/resumable_upload.py                # 1 GiB, cut at 900 MiB or so
    .venv/bin/python benchmarks/resumable_upload.py --size-mb 256 --json
"""

from __future__ import annotations

import argparse
import hashlib
import json
import socket
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
from upload_memory import MIB, _environment, _free_port, _sign_in, _start_server

CUT_FRACTION = 0.9


def _block(index: int) -> bytes:
    # Deterministic content, so both halves and the check agree without holding the file.
    return hashlib.sha256(index.to_bytes(8, "big")).digest() * (MIB // 32)


def _stream(start: int, stop: int) -> Iterator[bytes]:
    position = start
    while position < stop:
        block = _block(position // MIB)
        offset = position % MIB
        piece = block[offset : offset + min(MIB - offset, stop - position)]
        yield piece
        position += len(piece)


def _send_and_cut(port: int, path: str, size: int, cut_at: int) -> None:
    head = (
        f"PUT {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Length: {size}\r\n"
        f"Content-Range: bytes 0-{size - 1}/{size}\r\n\r\n"
    ).encode()
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.sendall(head)
        for piece in _stream(0, cut_at):
            sock.sendall(piece)


def _held(client: httpx.Client, path: str, size: int) -> int:
    """The server's offset once the cut request has written what it received."""
    last = -1
    for _ in range(300):
        response = client.put(path, headers={"Content-Range": f"bytes */{size}"})
        header = response.headers.get("Range")
        offset = 0 if header is None else int(header.rsplit("-", 1)[1]) + 1
        if offset == last:
            return offset
        last = offset
        time.sleep(0.2)
    raise RuntimeError("the server's offset never settled")


def _stored_digest(storage_root: Path) -> tuple[int, str]:
    (path,) = [p for p in (storage_root / "raw").rglob("*") if p.is_file()]
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        while chunk := stream.read(MIB):
            digest.update(chunk)
    return path.stat().st_size, digest.hexdigest()


def measure(size: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="ve-resumable-bench-") as tmp:
        workdir, port = Path(tmp), _free_port()
        env = _environment(workdir, port)
        server = _start_server(env, port)
        try:
            with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=600) as client:
                headers = _sign_in(client, env["VE_DATABASE_URL"])
                body = {
                    "filename": "big.mp4",
                    "contentType": "video/mp4",
                    "sizeBytes": size,
                    "durationSeconds": 60,
                    "resumable": True,
                }
                ticket = client.post("/videos/upload", json=body, headers=headers)
                ticket.raise_for_status()
                url = urlsplit(ticket.json()["uploadUrl"])
                path = f"{url.path}?{url.query}"
                cut_at = int(size * CUT_FRACTION)
                started = time.monotonic()
                _send_and_cut(port, path, size, cut_at)
                first_seconds = time.monotonic() - started
                held = _held(client, path, size)
                started = time.monotonic()
                rest = client.put(
                    path,
                    content=_stream(held, size),
                    headers={
                        "Content-Range": f"bytes {held}-{size - 1}/{size}",
                        "Content-Length": str(size - held),
                    },
                )
                resume_seconds = time.monotonic() - started
                rest.raise_for_status()
            stored_size, stored_digest = _stored_digest(workdir / "storage")
        finally:
            server.terminate()
            server.wait(timeout=30)
    expected = hashlib.sha256()
    for piece in _stream(0, size):
        expected.update(piece)
    return {
        "upload_bytes": size,
        "cut_after_bytes": cut_at,
        "server_held_bytes": held,
        "bytes_resent": cut_at - held,
        "resume_bytes_sent": size - held,
        "first_attempt_seconds": round(first_seconds, 2),
        "resume_seconds": round(resume_seconds, 2),
        "job_status": rest.json()["jobStatus"],
        "stored_object_intact": stored_size == size and stored_digest == expected.hexdigest(),
    }


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--size-mb", type=int, default=1024, help="upload size in MiB (default 1024 = 1 GiB)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()
    figures = measure(args.size_mb * MIB)
    if args.json:
        print(json.dumps(figures))
    else:
        for name, value in figures.items():
            print(f"{name:>22}: {value}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
