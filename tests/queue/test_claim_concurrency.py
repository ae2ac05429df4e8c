"""Eight processes claim 1,000 jobs at once: every job is claimed exactly once.

The figures (jobs claimed per second) are printed (`pytest -s`) and attached to the test report
as properties; the ADR quotes them.
"""

from __future__ import annotations

import multiprocessing as mp
import time
import uuid
from multiprocessing.synchronize import Event as MpEvent

import pytest
from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session, sessionmaker

from factories import make_user
from video_enhancer.db import make_engine, make_session_factory
from video_enhancer.jobs.lifecycle import claim_next_job
from video_enhancer.models import Job, JobStatus, Video, utcnow

PROCESSES = 8
JOBS = 1000


def _claim_until_empty(database_url: str, worker_id: str, start: MpEvent, results: mp.Queue) -> None:
    engine = make_engine(database_url, pool_size=1)
    factory = make_session_factory(engine)
    claimed: list[str] = []
    start.wait()
    while (job := claim_next_job(factory, worker_id, 300)) is not None:
        claimed.append(str(job.job_id))
    engine.dispose()
    results.put((worker_id, claimed, time.perf_counter()))


def _insert_jobs(session: Session, count: int) -> set[str]:
    user = make_user(session)
    now = utcnow()
    videos = [
        {
            "id": uuid.uuid4(),
            "user_id": user.id,
            "original_filename": "c.mp4",
            "content_type": "video/mp4",
            "size_bytes": 1,
            "claimed_duration_seconds": 1.0,
            "storage_path": f"k{i}",
        }
        for i in range(count)
    ]
    session.execute(insert(Video), videos)
    jobs = [
        {
            "id": uuid.uuid4(),
            "user_id": user.id,
            "video_id": v["id"],
            "status": JobStatus.QUEUED,
            "priority": i % 3,
            "queued_at": now,
            "queue_rank": now.timestamp() - (i % 3) * 600 + i,
        }
        for i, v in enumerate(videos)
    ]
    session.execute(insert(Job), jobs)
    session.commit()
    return {str(j["id"]) for j in jobs}


def test_eight_processes_claim_each_job_once(
    session: Session,
    session_factory: sessionmaker[Session],
    database_url: str,
    db_backend: str,
    record_property: pytest.RecordProperty,
) -> None:
    expected = _insert_jobs(session, JOBS)
    ctx = mp.get_context("spawn")
    start, results = ctx.Event(), ctx.Queue()
    procs = [
        ctx.Process(target=_claim_until_empty, args=(database_url, f"w{n}", start, results))
        for n in range(PROCESSES)
    ]
    for p in procs:
        p.start()
    time.sleep(0.5)
    began = time.perf_counter()
    start.set()
    outcomes = [results.get(timeout=120) for _ in procs]
    for p in procs:
        p.join(timeout=30)
    elapsed = max(end for _w, _c, end in outcomes) - began
    claims = [job_id for _w, claimed, _e in outcomes for job_id in claimed]

    assert len(claims) == JOBS
    assert set(claims) == expected  # each exactly once: no duplicates, none missed
    per_worker = sorted(len(c) for _w, c, _e in outcomes)
    assert per_worker[-1] < JOBS  # the work really was shared
    with session_factory() as s:
        assert (
            s.scalar(select(func.count()).select_from(Job).where(Job.status == JobStatus.PROCESSING)) == JOBS
        )
    rate = JOBS / elapsed
    record_property(f"claims_per_second_{db_backend}", round(rate, 1))
    print(
        f"\n[{db_backend}] {PROCESSES} processes claimed {JOBS} jobs in {elapsed:.2f} s "
        f"({rate:.0f} jobs/s); per process {per_worker}"
    )
