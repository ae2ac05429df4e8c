"""How long an idle worker on PostgreSQL waits between a job's commit and its wake-up (NOTIFY).

Enqueues N jobs one after another on a scratch database and times, for each, the span from the
COMMIT returning to `PostgresNotifyWakeup.wait` returning. Prints the median, p95 and maximum.
The goal: well under the 1 s polling interval of SQLite workers (typically a few milliseconds).

    .venv/bin/python benchmarks/queue_wakeup.py                    # 50 jobs
    .venv/bin/python benchmarks/queue_wakeup.py --jobs 200 --json
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import create_engine, text

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from conftest import run_migrations  # noqa: E402
from factories import make_job, make_user  # noqa: E402
from video_enhancer.config import Settings  # noqa: E402
from video_enhancer.db import make_engine, make_session_factory  # noqa: E402
from video_enhancer.queue.service import enqueue_job  # noqa: E402
from video_enhancer.queue.wakeup import PostgresNotifyWakeup  # noqa: E402

ADMIN_URL = os.environ.get("VE_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")


@contextmanager
def scratch_database() -> Iterator[str]:
    name = f"ve_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        url = ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
        run_migrations(url)
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def measure(url: str, jobs: int) -> list[float]:
    """Milliseconds from each commit to the listener's wake-up."""
    settings = Settings(env="test", database_url=url, queue="database")
    engine = make_engine(url, pool_size=2)
    session_factory = make_session_factory(engine)
    wakeup = PostgresNotifyWakeup(url, threading.Event())
    latencies: list[float] = []
    try:
        for _ in range(jobs):
            with session_factory() as session:
                enqueue_job(session, make_job(session, make_user(session)), settings)
                session.commit()
                committed = time.perf_counter()
            if not wakeup.wait(5.0):
                raise RuntimeError("no NOTIFY within 5 s of the commit")
            latencies.append((time.perf_counter() - committed) * 1000)
    finally:
        wakeup.close()
        engine.dispose()
    return latencies


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=50)
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()
    with scratch_database() as url:
        latencies = sorted(measure(url, args.jobs))
    figures = {
        "jobs": len(latencies),
        "median_ms": round(statistics.median(latencies), 2),
        "p95_ms": round(latencies[int(0.95 * (len(latencies) - 1))], 2),
        "max_ms": round(latencies[-1], 2),
    }
    if args.json:
        print(json.dumps(figures))
    else:
        print(
            f"NOTIFY wake-up over {figures['jobs']} jobs: median {figures['median_ms']} ms, "
            f"p95 {figures['p95_ms']} ms, max {figures['max_ms']} ms"
        )


if __name__ == "__main__":
    main()
