"""A request's unit of work under load: more requests than pooled connections wait for one and
succeed; requests that only read never take SQLite's write lock and cannot write."""

from __future__ import annotations

import asyncio
import threading
import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, insert, select

from factories import add_job, add_user, bearer, finished_job
from video_enhancer.app import create_app
from video_enhancer.config import Settings
from video_enhancer.db import ReadOnlyViolation, make_engine, make_read_session_factory, make_session_factory
from video_enhancer.models import Job, JobStatus, Plan, User

REQUESTS = 100


@pytest.fixture
def small_pool(settings: Settings) -> Any:
    """Two pooled connections (and two of overflow) for a hundred requests at once."""
    engine = make_engine(settings.database_url, pool_size=2)
    yield engine
    engine.dispose()


async def _all_at_once(
    app: Any, requests: list[tuple[str, str, dict[str, str], Any]]
) -> list[httpx.Response]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        calls = [
            client.request(method, url, headers=headers, json=body) for method, url, headers, body in requests
        ]
        return await asyncio.gather(*calls)


def _queued_jobs(engine: Engine, settings: Settings, count: int) -> list[tuple[dict[str, str], uuid.UUID]]:
    with make_session_factory(engine).begin() as session:
        owner = add_user(session, plan=Plan.PRO)
        finished_job(session, owner, JobStatus.COMPLETED, 30.0)  # history for the start estimate
        made = []
        for rank in range(count):
            user = add_user(session, plan=Plan.PRO)
            job = add_job(session, user, JobStatus.QUEUED, queue_rank=rank + 1, enhancer="lanczos")
            made.append((bearer(user, settings), job.id))
        return made


def test_a_hundred_polls_on_a_pool_of_two_all_succeed(small_pool: Engine, settings: Settings) -> None:
    app = create_app(settings, engine=small_pool)
    jobs = _queued_jobs(small_pool, settings, 10)
    requests = [("GET", f"/jobs/{jobs[n % 10][1]}", jobs[n % 10][0], None) for n in range(REQUESTS)]

    responses = asyncio.run(_all_at_once(app, requests))

    assert [r.status_code for r in responses] == [200] * REQUESTS
    positions = {r.json()["id"]: r.json()["queuePosition"] for r in responses}
    assert sorted(positions.values()) == list(range(1, 11))


def test_reads_and_writes_at_once_on_a_pool_of_two_all_succeed(
    small_pool: Engine, settings: Settings
) -> None:
    app = create_app(settings, engine=small_pool)
    jobs = _queued_jobs(small_pool, settings, 10)
    upload = {"filename": "a.mp4", "contentType": "video/mp4", "sizeBytes": 1000, "durationSeconds": 2.0}
    requests = []
    for n in range(REQUESTS):
        headers, job_id = jobs[n % 10]
        if n % 4 == 0:
            requests.append(("POST", "/videos/upload", headers, upload))
        else:
            requests.append(("GET", f"/jobs/{job_id}" if n % 2 else "/videos", headers, None))

    responses = asyncio.run(_all_at_once(app, requests))

    expected = [201 if method == "POST" else 200 for method, *_ in requests]
    assert [r.status_code for r in responses] == expected
    with make_session_factory(small_pool)() as session:
        waiting = session.scalars(select(Job).where(Job.status == JobStatus.AWAITING_UPLOAD)).all()
    assert len(waiting) == REQUESTS // 4


def test_a_read_only_unit_of_work_cannot_write(engine: Engine) -> None:
    with make_read_session_factory(engine)() as session, pytest.raises(ReadOnlyViolation):
        session.execute(insert(User).values(id=uuid.uuid4(), email="x@example.com", password_hash="x"))


@pytest.mark.db_backends("sqlite")
def test_a_reader_does_not_wait_for_a_writer_on_sqlite(engine: Engine) -> None:
    writer = make_session_factory(engine)
    with writer.begin() as session:
        user_id = add_user(session).id
    read: list[str] = []

    def read_email() -> None:
        with make_read_session_factory(engine)() as session:
            read.append(session.scalars(select(User.email).where(User.id == user_id)).one())

    with writer() as holding_the_lock:
        holding_the_lock.get(User, user_id)  # BEGIN IMMEDIATE: the write lock is held from here
        reader = threading.Thread(target=read_email)
        reader.start()
        reader.join(timeout=10)  # the busy timeout is 30 s: a reader queued behind the lock would wait
        assert read and read[0].endswith("@example.com")
        holding_the_lock.rollback()
