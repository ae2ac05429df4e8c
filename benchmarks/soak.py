"""Soak: the app's load for minutes while workers enhance real clips; no error, no growing memory,
every job completed and charged once.

On a PostgreSQL database made for the run: two `video-enhancer serve` processes and WORKERS
`video-enhancer worker` processes (the Lanczos enhancer). USERS simulated users each upload a
short clip (their job is queued), then run the polling mix of `load.py` (`GET /jobs/{jobId}`
every 2 s, `GET /videos`, and every UPLOAD_EVERY-th poll another clip uploaded and queued) with
STREAMS open event streams, for SECONDS. Resident memory of every API and worker process is
sampled every 30 s. After the load, the queue drains; then the database must show every uploaded
job COMPLETED, exactly one usage-ledger row per job and the job's charged minutes equal to it.

    .venv/bin/python benchmarks/soak.py                          # 10 minutes, 200 users
    .venv/bin/python benchmarks/soak.py --seconds 60 --users 20 --streams 40 --json
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import imageio_ffmpeg
import psutil
from sqlalchemy import create_engine, text

sys.path.insert(0, str(Path(__file__).resolve().parent))

import load

RSS_EVERY_SECONDS = 30.0
DRAIN_TIMEOUT_SECONDS = 900.0


def make_clip(path: Path, seconds: float) -> bytes:
    """A short H.264 clip with motion (FFmpeg's test source), small enough to enhance in a second."""
    args = [imageio_ffmpeg.get_ffmpeg_exe(), "-v", "error", "-y", "-f", "lavfi"]
    args += ["-i", "testsrc2=s=160x90:r=12", "-t", str(seconds), "-c:v", "libx264", "-preset", "veryfast"]
    subprocess.run([*args, "-pix_fmt", "yuv420p", str(path)], check=True, capture_output=True)
    return path.read_bytes()


def start_workers(count: int, env: dict[str, str], cwd: Path, workdir: Path) -> list[subprocess.Popen[bytes]]:
    workers = []
    for index in range(count):
        worker_env = {
            **env,
            "VE_ENHANCER": "lanczos",
            "VE_WORKER_METRICS_PORT": str(load.free_port()),
            "VE_WORKER_SCRATCH_DIR": str(workdir / f"scratch-{index}"),
            "VE_WORKER_ID": f"soak-worker-{index}",
        }
        log = (workdir / f"worker-{index}.log").open("wb")
        command = [sys.executable, "-m", "video_enhancer.cli", "worker"]
        workers.append(
            subprocess.Popen(command, env=worker_env, cwd=cwd, stdout=log, stderr=subprocess.STDOUT)
        )
    return workers


def rss_mib(pid: int) -> float:
    return round(psutil.Process(pid).memory_info().rss / load.MIB, 1)


async def sample_memory(processes: dict[str, int], samples: list[dict[str, float]], stop: float) -> None:
    started = time.perf_counter()
    while True:
        samples.append(
            {"second": round(time.perf_counter() - started), **{n: rss_mib(p) for n, p in processes.items()}}
        )
        if time.perf_counter() + RSS_EVERY_SECONDS > stop:
            return
        await asyncio.sleep(RSS_EVERY_SECONDS)


def job_states(url: str) -> dict[str, int]:
    engine = create_engine(url)
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT status, count(*) FROM jobs GROUP BY status")).all()
    engine.dispose()
    return {str(status): int(count) for status, count in rows}


async def drain(url: str) -> tuple[float, dict[str, int]]:
    """Wait until no uploaded job is waiting or running; returns the seconds it took."""
    started = time.perf_counter()
    while True:
        states = job_states(url)
        active = sum(states.get(state, 0) for state in ("UPLOADED", "QUEUED", "PROCESSING"))
        if not active or time.perf_counter() - started > DRAIN_TIMEOUT_SECONDS:
            return round(time.perf_counter() - started, 1), states
        await asyncio.sleep(2.0)


def charges(url: str, uploaded: Sequence[str]) -> dict[str, Any]:
    """Every uploaded job: COMPLETED, one ledger row, its charged minutes those of the row."""
    engine = create_engine(url)
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT j.id, j.status, j.minutes_charged, count(u.id), coalesce(sum(u.minutes), 0)"
                " FROM jobs j LEFT JOIN usage_ledger u ON u.job_id = j.id"
                " WHERE j.status <> 'AWAITING_UPLOAD' GROUP BY j.id, j.status, j.minutes_charged"
            )
        ).all()
        ledger_rows = int(conn.execute(text("SELECT count(*) FROM usage_ledger")).scalar_one())
    engine.dispose()
    by_id = {str(row[0]): row for row in rows}
    return {
        "jobs_uploaded": len(rows),
        "uploaded_during_load_seen": sum(1 for job_id in uploaded if job_id in by_id),
        "jobs_not_completed": sum(1 for row in rows if row[1] != "COMPLETED"),
        "jobs_charged_once": sum(1 for row in rows if row[3] == 1 and row[2] == row[4]),
        "jobs_charged_more_than_once": sum(1 for row in rows if row[3] > 1),
        "ledger_rows": ledger_rows,
    }


def memory_growth(samples: list[dict[str, float]]) -> dict[str, float]:
    """Last sample minus the first one taken after the warm-up (the second sample), per process."""
    if len(samples) < 3:
        return {}
    first, last = samples[1], samples[-1]
    return {name: round(last[name] - first[name], 1) for name in first if name != "second"}


async def soak(args: argparse.Namespace) -> dict[str, Any]:
    source = load.ROOT / "src"
    with load.workspace(args.keep) as workdir:
        clip = make_clip(workdir / "clip.mp4", args.clip_seconds)
        database = load.create_database("postgresql", workdir, source)
        extra = {"VE_CONTENT_CREDENTIALS": "off"}
        try:
            async with load.api_processes(2, source, database, workdir, **extra) as apis:
                env = load.service_env(source, database, workdir, **extra)
                workers = start_workers(args.workers, env, source.parent, workdir)
                try:
                    users = await load.seed_users([api.port for api in apis], database, args.users, clip, 1.0)
                    processes = {f"api-{i}": api.process.pid for i, api in enumerate(apis)}
                    processes |= {f"worker-{i}": worker.pid for i, worker in enumerate(workers)}
                    samples: list[dict[str, float]] = []
                    sampler = asyncio.create_task(
                        sample_memory(processes, samples, time.perf_counter() + args.seconds)
                    )
                    traffic = load.Traffic(upload_every=args.upload_every, clip=clip, clip_seconds=1.0)
                    mix = await load.run_mix(apis, users, args.streams, args.seconds, traffic)
                    await sampler
                    drained_in, states = await drain(database.url)
                    workers_alive = sum(1 for worker in workers if worker.poll() is None)
                finally:
                    for worker in workers:
                        worker.terminate()
                    for worker in workers:
                        worker.wait(timeout=120)
            checks = charges(database.url, traffic.uploaded_jobs)
        finally:
            load.drop_database(database)
    return {
        "machine": load.machine(),
        "seconds": args.seconds,
        "workers": args.workers,
        "load": {key: value for key, value in mix.items() if key != "by_route"},
        "requests_by_route": mix["by_route"],
        "uploaded_during_load": len(traffic.uploaded_jobs),
        "drained_in_seconds": drained_in,
        "job_states": states,
        "workers_alive_at_end": workers_alive,
        **checks,
        "rss_mib_every_30s": samples,
        "rss_growth_mib": memory_growth(samples),
    }


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=600.0, help="length of the load")
    parser.add_argument("--users", type=int, default=200, help="simulated app users")
    parser.add_argument("--streams", type=int, default=400, help="open event streams")
    parser.add_argument("--workers", type=int, default=2, help="worker processes (Lanczos)")
    parser.add_argument("--upload-every", type=int, default=300, help="polls between two uploads of a user")
    parser.add_argument("--clip-seconds", type=float, default=1.0, help="length of the uploaded clip")
    parser.add_argument("--keep", action="store_true", help="keep the work folder (API and worker logs)")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    result = asyncio.run(soak(args))
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        load.print_report(result)
    failed = (
        result["load"]["errors"]
        or result["jobs_not_completed"]
        or result["jobs_charged_more_than_once"]
        or result["jobs_charged_once"] != result["jobs_uploaded"]
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
