"""End to end on the cloud configuration, every piece a real process.

Two API processes (uvicorn) and two workers, all with `VE_STORAGE=gcs`, `VE_QUEUE=pubsub` and
PostgreSQL, against fake-gcs-server and the Pub/Sub emulator. One upload per plan goes through
signed GCS URLs and ends COMPLETED with one charge each; the FREE upload is never completed by
the app: the bucket's finalize notification queues it. Then a worker is killed mid-job: its
message comes back after the ack deadline and the other worker finishes the job, charged once.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from cloud_helpers import NOTIFY_BUCKET, NOTIFY_PROJECT, ServiceAccountKey, free_port, wait_http
from pubsub_helpers import setup_pubsub
from sqlalchemy import create_engine, func, select, text, update
from sqlalchemy.engine import Engine

from media.clips import ClipLibrary, ClipSpec
from video_enhancer.config import Settings
from video_enhancer.models import Base, Job, Plan, UsageEntry, User
from video_enhancer.storage.gcs import GcsStorage

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
PASSWORD = "correct horse battery staple"
SHORT = ClipSpec(name="cloud-short", width=64, height=48, fps=8, seconds=1.0)
# Long enough (many 0.5 s segments) that the worker is reliably caught mid-job.
LONGER = ClipSpec(name="cloud-longer", width=160, height=120, fps=12, seconds=8.0)


@dataclass
class Stack:
    api_urls: list[str]
    workers: list[subprocess.Popen[bytes]]
    engine: Engine


def _env(
    postgres_url: str, gcs_emulator: str, pubsub_emulator: str, key: ServiceAccountKey, scratch: Path
) -> dict[str, str]:
    return {
        **os.environ,
        "VE_ENV": "test",
        "VE_DATABASE_URL": postgres_url,
        "VE_BCRYPT_ROUNDS": "4",
        "VE_LOG_LEVEL": "WARNING",
        "VE_STORAGE": "gcs",
        "VE_GCS_ENDPOINT": gcs_emulator,
        "VE_GCS_CREDENTIALS_FILE": str(key.path),
        "VE_RAW_BUCKET": NOTIFY_BUCKET,
        "VE_ENHANCED_BUCKET": "e2e-enhanced",
        "VE_QUEUE": "pubsub",
        "VE_PUBSUB_EMULATOR_HOST": pubsub_emulator,
        "VE_PUBSUB_PROJECT": NOTIFY_PROJECT,
        "VE_ENHANCER": "lanczos",
        "VE_ENCODER_PRESET": "ultrafast",
        "VE_SEGMENT_SECONDS": "0.5",
        "VE_JOB_LEASE_SECONDS": "6",
        "VE_QUEUE_POLL_SECONDS": "0.2",
        "VE_WORKER_METRICS_PORT": "-1",
        "VE_WORKER_SCRATCH_DIR": str(scratch),
        "PYTHONPATH": str(ROOT / "src"),
    }


def _start(argv: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(argv, env=env, cwd=ROOT, stdout=log.open("wb"), stderr=subprocess.STDOUT)


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _empty_database(engine: Engine) -> None:
    tables = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
    with engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))


@pytest.fixture
def stack(
    postgres_url: str,
    gcs_emulator: str,
    pubsub_emulator: str,
    service_account_key: ServiceAccountKey,
    tmp_path: Path,
) -> Iterator[Stack]:
    settings = Settings(
        env="test",
        storage="gcs",
        gcs_endpoint=gcs_emulator,
        gcs_credentials_file=service_account_key.path,
        raw_bucket=NOTIFY_BUCKET,
        enhanced_bucket="e2e-enhanced",
        queue="pubsub",
        pubsub_emulator_host=pubsub_emulator,
        pubsub_project=NOTIFY_PROJECT,
    )
    GcsStorage.from_settings(settings).ensure_buckets()
    setup_pubsub(settings, ack_deadline_seconds=10)
    engine = create_engine(postgres_url)
    _empty_database(engine)
    processes: list[subprocess.Popen[bytes]] = []
    try:
        api_urls = []
        for n in range(2):
            port = free_port()
            env = _env(postgres_url, gcs_emulator, pubsub_emulator, service_account_key, tmp_path / f"api{n}")
            argv = [
                sys.executable,
                "-m",
                "uvicorn",
                "video_enhancer.app:create_app",
                "--factory",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
            ]
            processes.append(_start(argv, env, tmp_path / f"api{n}.log"))
            api_urls.append(f"http://127.0.0.1:{port}")
        workers = []
        for n in range(2):
            env = _env(postgres_url, gcs_emulator, pubsub_emulator, service_account_key, tmp_path / f"w{n}")
            env.update({"VE_WORKER_ID": f"cloud-worker-{n}", "VE_TEST_ACK_DEADLINE": "10"})
            workers.append(
                _start([sys.executable, str(HERE / "cloud_worker_main.py")], env, tmp_path / f"w{n}.log")
            )
        processes.extend(workers)
        for url, process in zip(api_urls, processes, strict=False):
            wait_http(f"{url}/openapi.json", process, 60, "an API process")
        yield Stack(api_urls=api_urls, workers=workers, engine=engine)
    finally:
        for process in processes:
            _stop(process)
        _empty_database(engine)
        engine.dispose()
        for log in sorted(tmp_path.glob("*.log")):
            tail = log.read_bytes()[-3000:].decode(errors="replace")
            if "Traceback" in tail:
                print(f"--- {log.name}\n{tail}")


def _user(stack: Stack, api: str, plan: Plan) -> dict[str, str]:
    email = f"cloud-{plan.value.lower()}-{uuid.uuid4().hex[:6]}@example.com"
    assert httpx.post(f"{api}/auth/register", json={"email": email, "password": PASSWORD}).status_code == 201
    with stack.engine.begin() as conn:
        conn.execute(update(User).where(User.email == email).values(plan=plan))
    token = httpx.post(f"{api}/auth/login", json={"email": email, "password": PASSWORD}).json()["accessToken"]
    return {"Authorization": f"Bearer {token}"}


def _upload(
    api: str, headers: dict[str, str], clip_path: Path, duration: float, *, complete: bool
) -> dict[str, Any]:
    content = clip_path.read_bytes()
    body = {
        "filename": "phone.mp4",
        "contentType": "video/mp4",
        "sizeBytes": len(content),
        "durationSeconds": duration,
    }
    grant = httpx.post(f"{api}/videos/upload", json=body, headers=headers)
    assert grant.status_code == 201, grant.text
    ticket: dict[str, Any] = grant.json()
    assert ticket["uploadUrl"].startswith("http://127.0.0.1")  # a GCS signed URL, not the API
    put = httpx.put(ticket["uploadUrl"], content=content, headers=ticket["uploadHeaders"])
    assert put.status_code == 200, put.text
    if complete:
        done = httpx.post(f"{api}/videos/{ticket['videoId']}/complete", headers=headers)
        assert done.status_code in (200, 202), done.text
    return ticket


def _job(api: str, headers: dict[str, str], job_id: str) -> dict[str, Any]:
    response = httpx.get(f"{api}/jobs/{job_id}", headers=headers)
    assert response.status_code == 200, response.text
    job: dict[str, Any] = response.json()
    return job


def _wait_status(
    api: str, headers: dict[str, str], job_id: str, statuses: set[str], timeout: float
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    job = _job(api, headers, job_id)
    while job["status"] not in statuses and time.monotonic() < deadline:
        time.sleep(0.2)
        job = _job(api, headers, job_id)
    assert job["status"] in statuses, job
    return job


def _charges(stack: Stack, job_id: str) -> int:
    with stack.engine.connect() as conn:
        return int(conn.scalar(select(func.count()).where(UsageEntry.job_id == uuid.UUID(job_id))) or 0)


def test_cloud_stack_end_to_end(stack: Stack, tmp_path: Path) -> None:
    (tmp_path / "clips").mkdir()
    clips = ClipLibrary(tmp_path / "clips")
    short, longer = clips.get(SHORT), clips.get(LONGER)
    first_api, second_api = stack.api_urls

    # One upload per plan, spread over both API processes. FREE is left to the notification.
    uploads = []
    for n, plan in enumerate((Plan.FREE, Plan.CREATOR, Plan.PRO)):
        api = stack.api_urls[n % 2]
        headers = _user(stack, api, plan)
        ticket = _upload(api, headers, short.path, short.duration_s, complete=plan is not Plan.FREE)
        uploads.append((plan, headers, ticket))
    for plan, headers, ticket in uploads:
        job = _wait_status(second_api, headers, ticket["jobId"], {"COMPLETED", "FAILED", "CANCELED"}, 90)
        assert job["status"] == "COMPLETED", (plan, job)
        assert job["minutesCharged"] == 1 and _charges(stack, ticket["jobId"]) == 1
        video = httpx.get(f"{first_api}/videos/{ticket['videoId']}", headers=headers).json()
        assert "X-Goog-Signature=" in video["downloadUrl"]
        download = httpx.get(video["downloadUrl"])
        assert download.status_code == 200 and download.content[4:8] == b"ftyp"

    # A worker dies mid-job: the other one gets the message again and finishes it.
    headers = _user(stack, first_api, Plan.PRO)
    ticket = _upload(first_api, headers, longer.path, longer.duration_s, complete=True)
    _wait_status(first_api, headers, ticket["jobId"], {"PROCESSING"}, 60)
    with stack.engine.connect() as conn:
        owner = conn.scalar(select(Job.lease_owner).where(Job.id == uuid.UUID(ticket["jobId"])))
    victim = 0 if owner == "cloud-worker-0" else 1
    assert owner == f"cloud-worker-{victim}"
    stack.workers[victim].send_signal(signal.SIGKILL)
    stack.workers[victim].wait()

    job = _wait_status(second_api, headers, ticket["jobId"], {"COMPLETED", "FAILED", "CANCELED"}, 120)
    assert job["status"] == "COMPLETED", job
    assert _charges(stack, ticket["jobId"]) == 1
    with stack.engine.connect() as conn:
        attempts = conn.scalar(select(Job.attempts).where(Job.id == uuid.UUID(ticket["jobId"])))
    assert attempts == 2  # the killed attempt and the one that finished
    assert stack.workers[1 - victim].poll() is None
