"""Memory of the API while a large upload streams through the local storage endpoint.

Starts the real API in a subprocess (uvicorn, SQLite, a temporary storage folder), requests an
upload, PUTs SIZE bytes through the signed URL, and samples the server's resident memory every
20 ms. The figure is the peak RSS during the upload minus the RSS just before it (after a small
warm-up upload, so first-use imports and allocations are not counted).

    .venv/bin/python benchmarks/upload_memory.py               # 1 GiB
    .venv/bin/python benchmarks/upload_memory.py --size-mb 200 --json
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import psutil
from sqlalchemy import create_engine, text

ROOT = Path(__file__).resolve().parents[1]
MIB = 1024 * 1024


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _environment(workdir: Path, port: int) -> dict[str, str]:
    return {
        **os.environ,
        "VE_ENV": "test",
        "VE_DATABASE_URL": f"sqlite:///{workdir / 'bench.db'}",
        "VE_STORAGE_ROOT": str(workdir / "storage"),
        "VE_PUBLIC_BASE_URL": f"http://127.0.0.1:{port}",
        "VE_BCRYPT_ROUNDS": "4",
        "VE_LOG_LEVEL": "WARNING",
    }


def _start_server(env: dict[str, str], port: int) -> subprocess.Popen[bytes]:
    subprocess.run(
        [sys.executable, "-m", "video_enhancer.cli", "migrate"],
        env=env,
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "--factory",
            "video_enhancer.app:create_app",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--log-level",
            "warning",
        ],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            httpx.get(f"http://127.0.0.1:{port}/openapi.json", timeout=2)
            return server
        except httpx.TransportError:
            if server.poll() is not None:
                raise RuntimeError(
                    f"the API did not start: {server.stderr.read().decode() if server.stderr else ''}"
                ) from None
            time.sleep(0.2)
    server.kill()
    raise RuntimeError("the API did not start within 60 s")


def _sign_in(client: httpx.Client, database_url: str) -> dict[str, str]:
    email, password = "bench@example.com", "benchmark-password"
    client.post("/auth/register", json={"email": email, "password": password}).raise_for_status()
    engine = create_engine(database_url)  # PRO: large uploads, and more than one video
    with engine.begin() as conn:
        conn.execute(text("UPDATE users SET plan = 'PRO' WHERE email = :email"), {"email": email})
    engine.dispose()
    token = client.post("/auth/login", json={"email": email, "password": password}).json()["accessToken"]
    return {"Authorization": f"Bearer {token}"}


def _upload(client: httpx.Client, headers: dict[str, str], size: int) -> dict[str, Any]:
    body = {"filename": "big.mp4", "contentType": "video/mp4", "sizeBytes": size, "durationSeconds": 60}
    ticket = client.post("/videos/upload", json=body, headers=headers)
    ticket.raise_for_status()
    url = urlsplit(ticket.json()["uploadUrl"])
    chunk = os.urandom(MIB)

    def stream() -> Iterator[bytes]:
        remaining = size
        while remaining > 0:
            yield chunk[: min(MIB, remaining)]
            remaining -= MIB

    response = client.put(
        f"{url.path}?{url.query}",
        content=stream(),
        headers={**ticket.json()["uploadHeaders"], "Content-Length": str(size)},
        timeout=600,
    )
    response.raise_for_status()
    job = client.get(f"/jobs/{ticket.json()['jobId']}", headers=headers).json()
    return {"receipt": response.json(), "job_status": job["status"]}


class RssSampler(threading.Thread):
    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.process = psutil.Process(pid)
        self.peak = self.process.memory_info().rss
        self._stop_event = threading.Event()

    def run(self) -> None:
        while not self._stop_event.is_set():
            self.peak = max(self.peak, self.process.memory_info().rss)
            time.sleep(0.02)

    def stop(self) -> int:
        self._stop_event.set()
        self.join()
        return self.peak


def measure(size_bytes: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="ve-upload-bench-") as tmp:
        workdir = Path(tmp)
        port = _free_port()
        env = _environment(workdir, port)
        server = _start_server(env, port)
        try:
            with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60) as client:
                headers = _sign_in(client, env["VE_DATABASE_URL"])
                _upload(client, headers, 4 * MIB)  # warm-up
                baseline = psutil.Process(server.pid).memory_info().rss
                sampler = RssSampler(server.pid)
                sampler.start()
                started = time.monotonic()
                result = _upload(client, headers, size_bytes)
                elapsed = time.monotonic() - started
                peak = sampler.stop()
            stored = sum(p.stat().st_size for p in (workdir / "storage" / "raw").rglob("*") if p.is_file())
        finally:
            server.terminate()
            server.wait(timeout=30)
    return {
        "upload_bytes": size_bytes,
        "baseline_rss_mib": round(baseline / MIB, 1),
        "peak_rss_mib": round(peak / MIB, 1),
        "rss_growth_mib": round((peak - baseline) / MIB, 2),
        "seconds": round(elapsed, 2),
        "throughput_mib_s": round(size_bytes / MIB / elapsed, 1),
        "stored_bytes": stored - 4 * MIB,
        "job_status": result["job_status"],
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
            print(f"{name:>18}: {value}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
