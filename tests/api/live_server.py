"""A real API server in its own process, on a free port, for tests that need real HTTP."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import httpx

UVICORN_FACTORY = ["-m", "uvicorn", "video_enhancer.app:create_app", "--factory", "--log-level", "warning"]
CLI_SERVE = ["-m", "video_enhancer.cli", "serve"]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def live_server(
    root: Path, sqlite_template: Path, arguments: Sequence[str], env: dict[str, str] | None = None
) -> Iterator[str]:
    """Serve on 127.0.0.1 with `python <arguments> --host --port`, a migrated SQLite database of
    its own and test settings; yields the base URL."""
    root.mkdir(parents=True, exist_ok=True)
    port = free_port()
    database = shutil.copyfile(sqlite_template, root / "api.db")
    environment = {
        **os.environ,
        "VE_ENV": "test",
        "VE_DATABASE_URL": f"sqlite:///{database}",
        "VE_STORAGE_ROOT": str(root / "storage"),
        "VE_BCRYPT_ROUNDS": "4",
        "VE_LOG_LEVEL": "WARNING",
        **(env or {}),
    }
    command = [sys.executable, *arguments, "--host", "127.0.0.1", "--port", str(port)]
    process = subprocess.Popen(command, env=environment, cwd=root)
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_until_serving(base, process)
        yield base
    finally:
        process.terminate()
        process.wait(timeout=30)


def _wait_until_serving(base: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert process.poll() is None, "the API server exited at start-up"
        try:
            if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.1)
    raise AssertionError("the API server did not start")
