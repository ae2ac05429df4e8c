"""The API under load, as the app uses it: job polling, video lists, uploads and open event streams.

Two modes, each starting its own `video-enhancer serve` processes on a database made for the run:

* the mix (default): API processes (2) on PostgreSQL; USERS simulated users, each polling
  `GET /jobs/{jobId}` of its queued job every 2 s, listing `GET /videos` every 10th poll and
  requesting an upload (`POST /videos/upload`) every 30th, plus STREAMS open `GET /events` streams.
  Prints requests per second, p50/p95/p99 latency, errors and the API processes' resident memory.
* `--compare BASELINE_SRC`: one API process of this tree and one of BASELINE_SRC (another
  checkout's `src`, e.g. from `git worktree add /tmp/baseline <commit>`), one after the other, on
  SQLite and on PostgreSQL, each driven by closed-loop clients (no pause between requests) at 1,
  10, 50 and 500 clients: the most each can serve, and whether a busy pool ever fails a request.

The client is a small HTTP/1.1 keep-alive client on asyncio streams: on a 2-core machine it
shares the CPU with the API, and a heavier client would measure itself.

    .venv/bin/python benchmarks/load.py                              # 500 users, 1000 streams, 60 s
    .venv/bin/python benchmarks/load.py --users 100 --streams 100 --seconds 20 --json
    .venv/bin/python benchmarks/load.py --compare /tmp/baseline/src --seconds 10
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import psutil
from sqlalchemy import create_engine, text

ROOT = Path(__file__).resolve().parents[1]
PG_ADMIN = os.environ.get("VE_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
PASSWORD = "correct horse battery staple"
MIB = 1024 * 1024
POLL_SECONDS = 2.0
LIST_EVERY = 10  # polls between two `GET /videos` of a user
UPLOAD_EVERY = 30  # polls between two `POST /videos/upload` of a user
UPLOAD_BODY = {"filename": "clip.mp4", "contentType": "video/mp4", "sizeBytes": 4096, "durationSeconds": 2.0}
SEED_BYTES = b"\0" * 4096  # the API stores an upload as it is; only a worker would decode it
REQUEST_TIMEOUT_SECONDS = 30.0  # an app gives up then: an error, and the step ends in bounded time


# --- a light HTTP/1.1 client ---------------------------------------------------------------------


class HttpError(Exception):
    """A request that got no HTTP answer (refused, reset, timed out)."""


class Connection:
    """One keep-alive connection; requests on it run one at a time, like a browser's."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def request(
        self, method: str, target: str, headers: dict[str, str] | None = None, body: bytes = b""
    ) -> tuple[int, bytes]:
        if self._writer is None:
            await self._open()
        assert self._reader is not None and self._writer is not None
        self._writer.write(_request_head(method, target, self.host, headers or {}, body) + body)
        try:
            status, response_headers = await _read_head(self._reader)
            content = await _read_body(self._reader, response_headers)
        except (ConnectionError, asyncio.IncompleteReadError) as exc:
            await self.close()
            raise HttpError(f"{method} {target}: {exc!r}") from exc
        if response_headers.get("connection", "").lower() == "close":
            await self.close()
        return status, content

    async def open_stream(self, target: str, headers: dict[str, str]) -> tuple[int, asyncio.StreamReader]:
        """Send a GET and return the status and the reader positioned at the body (event streams)."""
        await self._open()
        assert self._reader is not None and self._writer is not None
        self._writer.write(_request_head("GET", target, self.host, headers, b""))
        status, _headers = await _read_head(self._reader)
        return status, self._reader

    async def _open(self) -> None:
        try:
            self._reader, self._writer = await asyncio.open_connection(self.host, self.port)
        except OSError as exc:
            raise HttpError(f"connect: {exc!r}") from exc

    async def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            with contextlib.suppress(Exception):
                await self._writer.wait_closed()
        self._reader = self._writer = None


def _request_head(method: str, target: str, host: str, headers: dict[str, str], body: bytes) -> bytes:
    lines = [f"{method} {target} HTTP/1.1", f"Host: {host}"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    if body or method in {"POST", "PUT"}:
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


async def _read_head(reader: asyncio.StreamReader) -> tuple[int, dict[str, str]]:
    head = await reader.readuntil(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in header_lines:
        if ":" in line:
            name, value = line.split(":", 1)
            headers[name.strip().lower()] = value.strip()
    return int(status_line.split(" ", 2)[1]), headers


async def _read_body(reader: asyncio.StreamReader, headers: dict[str, str]) -> bytes:
    if headers.get("transfer-encoding", "").lower() == "chunked":
        chunks = []
        while size := int((await reader.readuntil(b"\r\n")).split(b";")[0], 16):
            chunks.append(await reader.readexactly(size))
            await reader.readexactly(2)
        await reader.readuntil(b"\r\n")
        return b"".join(chunks)
    return await reader.readexactly(int(headers.get("content-length", "0")))


# --- what was measured -----------------------------------------------------------------------------


@dataclass
class Recorder:
    """Latencies of answered requests, errors (non-2xx answers and failed requests) by kind."""

    latencies: list[float] = field(default_factory=list)
    by_route: Counter[str] = field(default_factory=Counter)
    slowest_by_route: dict[str, float] = field(default_factory=dict)
    errors: Counter[str] = field(default_factory=Counter)
    started: float = field(default_factory=time.perf_counter)
    ended: float | None = None

    async def timed(
        self, connection: Connection, route: str, method: str, target: str, **kwargs: Any
    ) -> tuple[int, bytes] | None:
        started = time.perf_counter()
        try:
            status, content = await asyncio.wait_for(
                connection.request(method, target, **kwargs), REQUEST_TIMEOUT_SECONDS
            )
        except HttpError as exc:
            self.errors[f"{route}: {type(exc.__cause__).__name__}"] += 1
            return None
        except TimeoutError:
            await connection.close()  # the answer may still come: this connection is out of step
            self.errors[f"{route}: no answer in {REQUEST_TIMEOUT_SECONDS:.0f} s"] += 1
            return None
        took = time.perf_counter() - started
        self.latencies.append(took)
        self.by_route[route] += 1
        self.slowest_by_route[route] = max(took, self.slowest_by_route.get(route, 0.0))
        if status >= 400:
            self.errors[f"{route}: HTTP {status}"] += 1
        return status, content

    def summary(self) -> dict[str, Any]:
        seconds = (self.ended or time.perf_counter()) - self.started
        ordered = sorted(self.latencies)
        return {
            "requests": len(ordered),
            "rps": round(len(ordered) / seconds, 1),
            "p50_ms": _ms(_percentile(ordered, 50)),
            "p95_ms": _ms(_percentile(ordered, 95)),
            "p99_ms": _ms(_percentile(ordered, 99)),
            "max_ms": _ms(ordered[-1] if ordered else None),
            "errors": sum(self.errors.values()),
            "error_kinds": dict(self.errors),
            "by_route": dict(self.by_route),
            "max_ms_by_route": {route: _ms(took) for route, took in sorted(self.slowest_by_route.items())},
        }


def _percentile(ordered: Sequence[float], q: float) -> float | None:
    if not ordered:
        return None
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds * 1000, 1)


# --- databases and API processes ---------------------------------------------------------------------


@dataclass
class Database:
    url: str
    pg_name: str | None = None  # set for a PostgreSQL database made for the run (dropped after)


def create_database(backend: str, workdir: Path, source: Path) -> Database:
    """A new, migrated database, by the migrations of the tree at `source` (its `src` folder)."""
    if backend == "sqlite":
        database = Database(f"sqlite:///{workdir / 'api.db'}")
    else:
        name = f"ve_load_{uuid.uuid4().hex[:8]}"
        admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        admin.dispose()
        database = Database(PG_ADMIN.rsplit("/", 1)[0] + f"/{name}", name)
    env = {**os.environ, "PYTHONPATH": str(source), "VE_DATABASE_URL": database.url}
    subprocess.run(
        [sys.executable, "-m", "video_enhancer.cli", "migrate"],
        env=env,
        check=True,
        cwd=source.parent,
        capture_output=True,
    )
    return database


def drop_database(database: Database) -> None:
    if database.pg_name is None:
        return
    admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(
            text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :name"),
            {"name": database.pg_name},
        )
        conn.execute(text(f'DROP DATABASE IF EXISTS "{database.pg_name}"'))
    admin.dispose()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def service_env(source: Path, database: Database, workdir: Path, **extra: str) -> dict[str, str]:
    """Settings shared by the API processes and workers of a run (one storage folder, one database)."""
    return {
        **os.environ,
        "PYTHONPATH": str(source),
        "VE_ENV": "development",
        "VE_DATABASE_URL": database.url,
        "VE_STORAGE_ROOT": str(workdir / "storage"),
        "VE_URL_SIGNING_SECRET": "load-benchmark-url-signing-secret-0123456789",
        "VE_JWT_SECRET": "load-benchmark-jwt-secret-0123456789abcdef",
        "VE_BCRYPT_ROUNDS": "4",
        "VE_LOG_LEVEL": "INFO",  # the access log stays on: its cost is part of a request's
        "VE_REGISTER_RATE_LIMIT_IP_ATTEMPTS": "100000",
        "VE_LOGIN_RATE_LIMIT_IP_ATTEMPTS": "100000",
        **extra,
    }


class ApiProcess:
    """`video-enhancer serve` on a free port; its log goes to a file (it is not the measurement)."""

    def __init__(self, env: dict[str, str], cwd: Path, log: Path) -> None:
        self.port = free_port()
        self.log = log.open("wb")
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "video_enhancer.cli",
                "serve",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
            ],
            env=env,
            cwd=cwd,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )

    async def wait_ready(self) -> None:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise SystemExit(f"the API exited at start-up; see {self.log.name}")
            connection = Connection("127.0.0.1", self.port)
            with contextlib.suppress(HttpError, OSError):
                status, _ = await connection.request("GET", "/healthz")
                await connection.close()
                if status == 200:
                    return
            await asyncio.sleep(0.3)
        raise SystemExit("the API did not start")

    def rss_mib(self) -> float:
        return round(psutil.Process(self.process.pid).memory_info().rss / MIB, 1)

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
        self.log.close()


@contextlib.contextmanager
def workspace(keep: bool = False) -> Iterator[Path]:
    directory = Path(tempfile.mkdtemp(prefix="ve-load-"))
    try:
        yield directory
    finally:
        if not keep:
            shutil.rmtree(directory, ignore_errors=True)


# --- users of the app ----------------------------------------------------------------------------------


@dataclass
class User:
    headers: dict[str, str]
    job_id: str
    port: int


async def _json(connection: Connection, method: str, target: str, **kwargs: Any) -> Any:
    status, content = await connection.request(method, target, **kwargs)
    if status >= 400:
        raise SystemExit(f"seeding: {method} {target} answered {status}: {content[:300]!r}")
    return json.loads(content) if content else None


def _json_body(value: Any, headers: dict[str, str] | None = None) -> dict[str, Any]:
    return {
        "headers": {"Content-Type": "application/json", **(headers or {})},
        "body": json.dumps(value).encode(),
    }


async def register(port: int, email: str) -> dict[str, str]:
    connection = Connection("127.0.0.1", port)
    credentials = {"email": email, "password": PASSWORD}
    await _json(connection, "POST", "/auth/register", **_json_body(credentials))
    tokens = await _json(connection, "POST", "/auth/login", **_json_body(credentials))
    await connection.close()
    token = tokens.get("accessToken") or tokens["access_token"]  # older releases answer in snake_case
    return {"Authorization": f"Bearer {token}"}


async def upload(port: int, headers: dict[str, str], content: bytes, duration: float) -> str:
    """Request an upload and send its bytes: the API queues the job. Returns the job id."""
    connection = Connection("127.0.0.1", port)
    body = {**UPLOAD_BODY, "sizeBytes": len(content), "durationSeconds": duration}
    ticket = await _json(connection, "POST", "/videos/upload", **_json_body(body, headers))
    url = urlsplit(ticket["uploadUrl"])
    await _json(connection, "PUT", f"{url.path}?{url.query}", headers=ticket["uploadHeaders"], body=content)
    await connection.close()
    return str(ticket["jobId"])


def set_plan(database: Database, plan: str) -> None:
    """Every user on `plan`: the mix's uploads must stay within the plan, or they would be refused."""
    engine = create_engine(database.url)
    with engine.begin() as conn:
        conn.execute(text("UPDATE users SET plan = :plan"), {"plan": plan})
    engine.dispose()


async def seed_users(
    ports: Sequence[int], database: Database, count: int, content: bytes = SEED_BYTES, duration: float = 2.0
) -> list[User]:
    """`count` users, each with one queued job, spread over the API processes."""
    run = uuid.uuid4().hex[:6]
    gate = asyncio.Semaphore(8)

    async def one_account(index: int) -> dict[str, str]:
        async with gate:
            return await register(ports[index % len(ports)], f"load-{run}-{index}@example.com")

    accounts = await asyncio.gather(*(one_account(index) for index in range(count)))
    set_plan(database, "PRO")

    async def one_job(index: int) -> User:
        port = ports[index % len(ports)]
        async with gate:
            job_id = await upload(port, accounts[index], content, duration)
        return User(accounts[index], job_id, port)

    return list(await asyncio.gather(*(one_job(index) for index in range(count))))


# --- the app's traffic ---------------------------------------------------------------------------------


@dataclass
class Traffic:
    """How the simulated users behave: paced like the app (every POLL_SECONDS) or back to back;
    how often they ask for an upload; with `clip`, they also send its bytes (the job is queued)."""

    paced: bool = True
    upload_every: int = UPLOAD_EVERY
    clip: bytes | None = None
    clip_seconds: float = 1.0
    uploaded_jobs: list[str] = field(default_factory=list)


async def app_user(user: User, recorder: Recorder, stop: float, traffic: Traffic) -> None:
    """What one phone does: poll its job; now and then list its videos or request another upload."""
    connection = Connection("127.0.0.1", user.port)
    polls = random.randrange(LIST_EVERY * traffic.upload_every)  # users do not all list at once
    if traffic.paced:
        await asyncio.sleep(random.uniform(0, POLL_SECONDS))
    while time.perf_counter() < stop:
        started = time.perf_counter()
        polls += 1
        await recorder.timed(
            connection, "GET /jobs/{jobId}", "GET", f"/jobs/{user.job_id}", headers=user.headers
        )
        if polls % LIST_EVERY == 0:
            await recorder.timed(connection, "GET /videos", "GET", "/videos", headers=user.headers)
        if polls % traffic.upload_every == 0:
            await _upload(connection, user, recorder, traffic)
        if traffic.paced:
            await asyncio.sleep(max(0.0, POLL_SECONDS - (time.perf_counter() - started)))
    await connection.close()


async def _upload(connection: Connection, user: User, recorder: Recorder, traffic: Traffic) -> None:
    size = len(traffic.clip) if traffic.clip else UPLOAD_BODY["sizeBytes"]
    body = {**UPLOAD_BODY, "sizeBytes": size, "durationSeconds": traffic.clip_seconds}
    answer = await recorder.timed(
        connection, "POST /videos/upload", "POST", "/videos/upload", **_json_body(body, user.headers)
    )
    if traffic.clip is None or answer is None or answer[0] != 201:
        return
    ticket = json.loads(answer[1])
    url = urlsplit(ticket["uploadUrl"])
    sent = await recorder.timed(
        connection,
        "PUT /storage/upload",
        "PUT",
        f"{url.path}?{url.query}",
        headers=ticket["uploadHeaders"],
        body=traffic.clip,
    )
    if sent is not None and sent[0] == 200:
        traffic.uploaded_jobs.append(str(ticket["jobId"]))


@dataclass
class StreamStats:
    opened: int = 0
    refused: int = 0
    dropped: int = 0
    events: int = 0
    open_seconds: list[float] = field(default_factory=list)


async def event_stream(user: User, stats: StreamStats, stop: float) -> None:
    """One open `GET /events` (an app screen or a browser tab), held until `stop`."""
    connection = Connection("127.0.0.1", user.port)
    started = time.perf_counter()
    try:
        status, reader = await connection.open_stream(
            "/events", {**user.headers, "Accept": "text/event-stream"}
        )
    except (HttpError, ConnectionError, asyncio.IncompleteReadError):
        stats.refused += 1
        return
    if status != 200:
        stats.refused += 1
        await connection.close()
        return
    stats.opened += 1
    stats.open_seconds.append(time.perf_counter() - started)
    try:
        while (left := stop - time.perf_counter()) > 0:
            with contextlib.suppress(TimeoutError):
                line = await asyncio.wait_for(reader.readline(), left)
                if not line:
                    stats.dropped += 1
                    return
                stats.events += line.startswith(b"data:")
    except ConnectionError:
        stats.dropped += 1
    finally:
        await connection.close()


async def sample_rss(apis: Sequence[ApiProcess], samples: list[float], every: float, stop: float) -> None:
    while time.perf_counter() < stop:
        samples.append(sum(api.rss_mib() for api in apis))
        await asyncio.sleep(min(every, max(0.0, stop - time.perf_counter())))


async def run_mix(
    apis: Sequence[ApiProcess], users: Sequence[User], streams: int, seconds: float, traffic: Traffic
) -> dict[str, Any]:
    """The paced polling mix and `streams` open event streams, for `seconds`; figures of the mix."""
    stream_stop = time.perf_counter() + seconds + 15
    stream_stats = StreamStats()
    stream_tasks = [
        asyncio.create_task(event_stream(users[index % len(users)], stream_stats, stream_stop))
        for index in range(streams)
    ]
    while (  # noqa: ASYNC110 - a thousand tasks count into the stats: polled, not signalled
        stream_stats.opened + stream_stats.refused < streams and time.perf_counter() < stream_stop - seconds
    ):
        await asyncio.sleep(0.2)
    rss_idle_streams = sum(api.rss_mib() for api in apis)
    recorder = Recorder()
    stop = time.perf_counter() + seconds
    rss: list[float] = []
    sampler = asyncio.create_task(sample_rss(apis, rss, 5.0, stop))
    await asyncio.gather(*(app_user(user, recorder, stop, traffic) for user in users))
    recorder.ended = time.perf_counter()
    await sampler
    for task in stream_tasks:
        task.cancel()
    await asyncio.gather(*stream_tasks, return_exceptions=True)
    return {
        **recorder.summary(),
        "users": len(users),
        "api_processes": len(apis),
        "streams_open": stream_stats.opened,
        "streams_refused": stream_stats.refused,
        "streams_dropped": stream_stats.dropped,
        "stream_events_received": stream_stats.events,
        "stream_open_p99_ms": _ms(_percentile(sorted(stream_stats.open_seconds), 99)),
        "api_rss_mib_with_streams": rss_idle_streams,
        "api_rss_mib_max": max(rss, default=None),
        "api_rss_mib_per_process": [api.rss_mib() for api in apis],
    }


async def run_closed(users: Sequence[User], clients: int, seconds: float) -> dict[str, Any]:
    """`clients` clients, each on its own connection, sending the mix back to back."""
    recorder = Recorder()
    stop = time.perf_counter() + seconds
    traffic = Traffic(paced=False, upload_every=UPLOAD_EVERY * 5)
    await asyncio.gather(
        *(app_user(users[index % len(users)], recorder, stop, traffic) for index in range(clients))
    )
    recorder.ended = time.perf_counter()
    return {"clients": clients, **recorder.summary()}


# --- the two modes ----------------------------------------------------------------------------------------


@contextlib.asynccontextmanager
async def api_processes(
    count: int, source: Path, database: Database, workdir: Path, **extra: str
) -> AsyncIterator[list[ApiProcess]]:
    env = service_env(source, database, workdir, **extra)
    apis = [ApiProcess(env, source.parent, workdir / f"api-{index}.log") for index in range(count)]
    try:
        await asyncio.gather(*(api.wait_ready() for api in apis))
        yield apis
    finally:
        for api in apis:
            api.stop()


async def mix(args: argparse.Namespace) -> dict[str, Any]:
    source = ROOT / "src"
    with workspace(args.keep) as workdir:
        database = create_database("postgresql", workdir, source)
        try:
            async with api_processes(args.api_processes, source, database, workdir) as apis:
                users = await seed_users([api.port for api in apis], database, args.users)
                result = await run_mix(apis, users, args.streams, args.seconds, Traffic())
        finally:
            drop_database(database)
    return {"machine": machine(), "seconds": args.seconds, **result}


async def compare(args: argparse.Namespace, baseline: Path) -> dict[str, Any]:
    trees = {"baseline": baseline, "this tree": ROOT / "src"}
    results: dict[str, Any] = {"machine": machine(), "seconds_per_step": args.seconds}
    for backend in args.backends:
        for label, source in trees.items():
            results[f"{backend}, {label}"] = await compare_one(backend, source, args)
    return results


async def compare_one(backend: str, source: Path, args: argparse.Namespace) -> list[dict[str, Any]]:
    steps = []
    with workspace(args.keep) as workdir:
        database = create_database(backend, workdir, source)
        try:
            async with api_processes(1, source, database, workdir) as apis:
                users = await seed_users([apis[0].port], database, args.compare_users)
                for clients in args.clients:
                    step = await run_closed(users, clients, args.seconds)
                    steps.append({**step, "api_rss_mib": apis[0].rss_mib()})
                    print(json.dumps({"backend": backend, "tree": str(source), **step}), file=sys.stderr)
        finally:
            drop_database(database)
    return steps


def machine() -> str:
    return f"{os.cpu_count()} CPUs ({platform_cpu()}), {round(psutil.virtual_memory().total / 1024**3)} GiB"


def platform_cpu() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return "unknown CPU"


def print_report(result: dict[str, Any]) -> None:
    for key, value in result.items():
        if isinstance(value, list):
            print(f"{key}:")
            for step in value:
                shown = {k: v for k, v in step.items() if k not in {"by_route"}}
                print("   ", shown)
        else:
            print(f"{key}: {value}")


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--users", type=int, default=500, help="simulated app users (the mix)")
    parser.add_argument("--streams", type=int, default=1000, help="open event streams (the mix)")
    parser.add_argument("--api-processes", type=int, default=2, help="API processes (the mix)")
    parser.add_argument("--seconds", type=float, default=60.0, help="length of the mix, or of each step")
    parser.add_argument("--compare", metavar="BASELINE_SRC", help="side by side with another tree's src")
    parser.add_argument(
        "--backends", nargs="+", default=["sqlite", "postgresql"], choices=["sqlite", "postgresql"]
    )
    parser.add_argument("--clients", nargs="+", type=int, default=[1, 10, 50, 500], help="steps (--compare)")
    parser.add_argument("--compare-users", type=int, default=50, help="users the clients share (--compare)")
    parser.add_argument("--keep", action="store_true", help="keep the work folder (API logs)")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    result = asyncio.run(compare(args, Path(args.compare).resolve()) if args.compare else mix(args))
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print_report(result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
