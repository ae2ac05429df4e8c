"""Open event streams held by one API process: memory per stream and event-to-stream latency.

Starts `video-enhancer serve` in a subprocess on a fresh PostgreSQL database (the production
backend: LISTEN/NOTIFY wakes the streams), opens STREAMS `GET /events` streams for one user from
an asyncio client in this process, then commits EVENTS job events one by one (each carries the
commit time) and records when each stream receives it. Prints the server's resident memory per
open stream and, per event, the time until it had reached every stream (p50, p99, max), plus the
p99 of single deliveries. Then measures the webhook dispatcher's deliveries per second to a
local receiver.

    .venv/bin/python benchmarks/event_streams.py                 # 1000 streams, 30 events
    .venv/bin/python benchmarks/event_streams.py --streams 200 --events 10 --json
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import psutil
from sqlalchemy import create_engine, text

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from video_enhancer.config import Settings  # noqa: E402
from video_enhancer.db import make_engine, make_session_factory  # noqa: E402
from video_enhancer.events.service import append_job_event  # noqa: E402
from video_enhancer.models import EventType, Job, JobStatus, User, Video, WebhookEndpoint  # noqa: E402
from video_enhancer.webhooks import signing  # noqa: E402
from video_enhancer.webhooks.dispatcher import WebhookDispatcher  # noqa: E402

PG_ADMIN = os.environ.get("VE_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
PASSWORD = "correct horse battery staple"
MIB = 1024 * 1024


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _create_database() -> tuple[str, str]:
    name = f"ve_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    url = PG_ADMIN.rsplit("/", 1)[0] + f"/{name}"
    env = {**os.environ, "VE_DATABASE_URL": url}
    subprocess.run([sys.executable, "-m", "video_enhancer.cli", "migrate"], env=env, check=True, cwd=ROOT)
    return name, url


def _drop_database(name: str) -> None:
    admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'"))
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
    admin.dispose()


def _start_api(url: str, workdir: Path, port: int) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "VE_ENV": "development",
        "VE_DATABASE_URL": url,
        "VE_STORAGE_ROOT": str(workdir / "storage"),
        "VE_BCRYPT_ROUNDS": "4",
        "VE_LOG_LEVEL": "WARNING",
    }
    server = subprocess.Popen(
        [sys.executable, "-m", "video_enhancer.cli", "serve", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        cwd=ROOT,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200:
                return server
        except httpx.HTTPError:
            time.sleep(0.2)
    server.kill()
    raise SystemExit("the API did not start")


def _token(base: str) -> str:
    email = f"bench-{uuid.uuid4().hex[:8]}@example.com"
    httpx.post(f"{base}/auth/register", json={"email": email, "password": PASSWORD}).raise_for_status()
    body = httpx.post(f"{base}/auth/login", json={"email": email, "password": PASSWORD}).json()
    return str(body["accessToken"])


def _job_for_newest_user(url: str) -> uuid.UUID:
    factory = make_session_factory(make_engine(url))
    with factory.begin() as session:
        user = session.execute(text("SELECT id FROM users ORDER BY created_at DESC LIMIT 1")).scalar_one()
        user_id = uuid.UUID(str(user))
        video = Video(
            user_id=user_id,
            original_filename="a.mp4",
            content_type="video/mp4",
            size_bytes=1,
            claimed_duration_seconds=1.0,
            storage_path=f"users/{user_id}/videos/{uuid.uuid4()}/source",
        )
        session.add(video)
        session.flush()
        job = Job(user_id=user_id, video_id=video.id, status=JobStatus.PROCESSING)
        session.add(job)
        session.flush()
        return job.id


async def _listen(
    client: httpx.AsyncClient, token: str, arrivals: dict[int, list[float]], ready: asyncio.Event, total: int
) -> None:
    async with client.stream("GET", "/events", headers={"Authorization": f"Bearer {token}"}) as response:
        ready.set()
        async for line in response.aiter_lines():
            if line.startswith("data:"):
                event = json.loads(line[5:])
                arrivals.setdefault(event["data"]["n"], []).append(time.time() - event["data"]["sentAt"])
                if event["data"]["n"] == total - 1:
                    return


def _emit(url: str, job_id: uuid.UUID, events: int, gap: float) -> None:
    factory = make_session_factory(make_engine(url))
    for n in range(events):
        with factory.begin() as session:
            job = session.get(Job, job_id)
            assert job is not None
            append_job_event(session, EventType.JOB_PROGRESS, job, n=n, sentAt=time.time())
        time.sleep(gap)


async def _streams(base: str, url: str, pid: int, streams: int, events: int) -> dict[str, Any]:
    token = _token(base)
    job_id = _job_for_newest_user(url)
    process = psutil.Process(pid)
    before = process.memory_info().rss
    arrivals: dict[int, list[float]] = {}
    limits = httpx.Limits(max_connections=streams + 10, max_keepalive_connections=streams + 10)
    async with httpx.AsyncClient(base_url=base, timeout=None, limits=limits) as client:
        readies = [asyncio.Event() for _ in range(streams)]
        tasks = [asyncio.create_task(_listen(client, token, arrivals, r, events)) for r in readies]
        await asyncio.wait_for(asyncio.gather(*(r.wait() for r in readies)), 120)
        await asyncio.sleep(2.0)
        during = process.memory_info().rss
        await asyncio.to_thread(_emit, url, job_id, events, 0.5)
        await asyncio.wait_for(asyncio.gather(*tasks), 120)
    everyone = [max(times) for times in arrivals.values() if len(times) == streams]
    single = sorted(t for times in arrivals.values() for t in times)
    return {
        "streams": streams,
        "events": events,
        "events_reaching_every_stream": len(everyone),
        "rss_before_mib": round(before / MIB, 1),
        "rss_with_streams_mib": round(during / MIB, 1),
        "kib_per_stream": round((during - before) / streams / 1024, 1),
        "all_streams_p50_ms": round(statistics.median(everyone) * 1000, 1),
        "all_streams_p99_ms": round(_percentile(everyone, 99) * 1000, 1),
        "all_streams_max_ms": round(max(everyone) * 1000, 1),
        "single_delivery_p50_ms": round(statistics.median(single) * 1000, 1),
        "single_delivery_p99_ms": round(_percentile(single, 99) * 1000, 1),
    }


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def _dispatcher(url: str, deliveries: int) -> dict[str, Any]:
    received = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers["content-length"]))
            received.append(1)
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    settings = Settings(database_url=url, webhook_allow_private=True, webhook_poll_seconds=0.05)
    engine = make_engine(url)
    factory = make_session_factory(engine)
    with factory.begin() as session:
        user = User(email=f"hooks-{uuid.uuid4().hex[:8]}@example.com", password_hash="x")
        session.add(user)
        session.flush()
        video = Video(
            user_id=user.id,
            original_filename="a.mp4",
            content_type="video/mp4",
            size_bytes=1,
            claimed_duration_seconds=1.0,
            storage_path=f"users/{user.id}/videos/{uuid.uuid4()}/source",
        )
        session.add(video)
        session.flush()
        job = Job(user_id=user.id, video_id=video.id, status=JobStatus.PROCESSING)
        session.add(job)
        session.add(
            WebhookEndpoint(
                user_id=user.id,
                url=f"http://127.0.0.1:{server.server_address[1]}/hook",
                event_types=["job.progress"],
                secret=signing.new_secret(),
            )
        )
        session.flush()
        for n in range(deliveries):
            append_job_event(session, EventType.JOB_PROGRESS, job, n=n)
    dispatcher = WebhookDispatcher(factory, settings)
    started = time.perf_counter()
    while len(received) < deliveries:
        dispatcher.run_once()
    elapsed = time.perf_counter() - started
    server.shutdown()
    engine.dispose()
    return {
        "deliveries": deliveries,
        "seconds": round(elapsed, 2),
        "deliveries_per_second": round(deliveries / elapsed, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--streams", type=int, default=1000)
    parser.add_argument("--events", type=int, default=30)
    parser.add_argument("--deliveries", type=int, default=500)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    name, url = _create_database()
    port = _free_port()
    try:
        with tempfile.TemporaryDirectory() as workdir:
            server = _start_api(url, Path(workdir), port)
            try:
                figures = asyncio.run(
                    _streams(f"http://127.0.0.1:{port}", url, server.pid, args.streams, args.events)
                )
            finally:
                server.terminate()
                server.wait(timeout=30)
        figures["dispatcher"] = _dispatcher(url, args.deliveries)
    finally:
        _drop_database(name)
    figures["machine"] = f"{os.cpu_count()} cores, client and server on the same machine"
    print(json.dumps(figures, indent=None if args.json else 2))


if __name__ == "__main__":
    main()
