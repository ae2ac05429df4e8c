"""A request's unit of work under load: more requests than pooled connections wait for one and
succeed; requests that only read never take SQLite's write lock and cannot write."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any
from unittest.mock import patch

import anyio.to_thread
import httpx
import psycopg
import pytest
from sqlalchemy import Connection, Engine, insert, select, text
from sqlalchemy.orm import Session

from factories import add_job, add_user, bearer, finished_job
from video_enhancer.app import create_app
from video_enhancer.config import Settings
from video_enhancer.db import ReadOnlyViolation, make_engine, make_read_session_factory, make_session_factory
from video_enhancer.jobs.service import poll_query
from video_enhancer.models import Job, JobStatus, Plan, User, Video, utcnow
from video_enhancer.storage.memory import MemoryStorage

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


# --- polled reads without a thread hop (`RequestSessions.read`, `read_session`) ---------------------


def _poll_all(app: Any, paths: list[tuple[str, dict[str, str]]]) -> list[httpx.Response]:
    return asyncio.run(_all_at_once(app, [("GET", path, headers, None) for path, headers in paths]))


@contextmanager
def _thread_hops() -> Iterator[list[str]]:
    """The names of the functions run in the thread pool while the block runs."""
    hops: list[str] = []
    original = anyio.to_thread.run_sync

    async def counting(*args: Any, **kwargs: Any) -> Any:
        hops.append(getattr(args[0], "__name__", repr(args[0])))
        return await original(*args, **kwargs)

    with patch.object(anyio.to_thread, "run_sync", counting):
        yield hops


def test_polled_reads_take_no_thread_where_the_database_allows(engine: Engine, settings: Settings) -> None:
    """SQLite files read on the event loop, PostgreSQL on psycopg's asyncio connections: the
    thread pool is never entered (a read that used it would show here)."""
    app = create_app(settings, engine=engine)
    (headers, job_id), *_ = _queued_jobs(engine, settings, 1)
    sessions = app.state.request_sessions
    assert (sessions.loop_reads is not None) == (engine.dialect.name == "sqlite")
    assert (sessions.async_reads is not None) == (engine.dialect.name == "postgresql")
    with _thread_hops() as entered:
        responses = _poll_all(app, [(f"/jobs/{job_id}", headers), ("/jobs", headers), ("/videos", headers)])

    assert [r.status_code for r in responses] == [200, 200, 200]
    assert responses[0].json()["queuePosition"] == 1
    assert [item["id"] for item in responses[1].json()["items"]] == [str(job_id)]
    assert entered == []


def test_polled_reads_are_still_refused_to_a_deleted_account_and_to_others(
    engine: Engine, settings: Settings
) -> None:
    app = create_app(settings, engine=engine)
    (mine, my_job), (theirs, _their_job) = _queued_jobs(engine, settings, 2)
    with make_session_factory(engine).begin() as session:
        owner_id = session.scalars(select(Job.user_id).where(Job.id == my_job)).one()
        session.get_one(User, owner_id).deleted_at = utcnow()

    responses = _poll_all(app, [(f"/jobs/{my_job}", theirs), (f"/jobs/{my_job}", mine), ("/videos", mine)])

    assert [(r.status_code, r.json()["error"]["code"]) for r in responses] == [
        (404, "NOT_FOUND"),
        (401, "INVALID_TOKEN"),
        (401, "INVALID_TOKEN"),
    ]


@pytest.mark.db_backends("sqlite")
def test_a_loop_read_that_meets_a_lock_waits_in_a_thread_and_never_holds_up_the_loop(
    engine: Engine, settings: Settings
) -> None:
    """An exclusive lock (the one case where a WAL reader waits) makes the loop's read give up
    without sleeping on the loop, retry after short pauses, then wait in the thread pool; meanwhile
    the loop serves others."""
    app = create_app(settings, engine=engine)
    (headers, job_id), *_ = _queued_jobs(engine, settings, 1)
    path = Path(engine.url.database or "")
    engine.dispose()  # an exclusive lock needs the database to itself
    locker = sqlite3.connect(path, isolation_level=None)
    locker.execute("PRAGMA locking_mode=EXCLUSIVE")
    locker.execute("BEGIN EXCLUSIVE")
    locker.execute("UPDATE users SET email = email")  # holds the database until COMMIT

    async def scenario() -> tuple[httpx.Response, list[float], float]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            poll = asyncio.create_task(client.get(f"/jobs/{job_id}", headers=headers))
            gaps: list[float] = []
            started = time.perf_counter()
            while time.perf_counter() - started < 0.6:  # the loop stays free while the poll waits
                before = time.perf_counter()
                await asyncio.sleep(0.01)
                gaps.append(time.perf_counter() - before)
            assert not poll.done()
            locker.execute("COMMIT")
            locker.close()  # releases the exclusive lock
            response = await asyncio.wait_for(poll, timeout=10)
            return response, gaps, time.perf_counter() - started

    try:
        response, gaps, _elapsed = asyncio.run(scenario())
    finally:
        locker.close()  # closing twice is allowed
    assert response.status_code == 200
    assert response.json()["id"] == str(job_id)
    assert max(gaps) < 0.2  # no step of the loop waited out SQLite's busy handler (30 s here)


@pytest.mark.db_backends("sqlite")
def test_the_loop_connection_cannot_write(engine: Engine, settings: Settings) -> None:
    sessions = create_app(settings, engine=engine).state.request_sessions

    def write(connection: Connection) -> None:
        connection.exec_driver_sql("INSERT INTO users (id, email) VALUES ('x', 'y')")

    with pytest.raises(ReadOnlyViolation):
        asyncio.run(sessions.read(write))


def test_first_reads_the_row_sqlalchemy_reads(engine: Engine, settings: Settings) -> None:
    """`RequestSessions.first` (on PostgreSQL a statement compiled once, run on the driver's own
    connection) gives the row, values and types, that SQLAlchemy's execution gives: an enum, UTC
    datetimes, JSON, the outlook's counts and average; none for a statement without rows."""
    sessions = create_app(settings, engine=engine).state.request_sessions
    (_headers, queued_id), *_ = _queued_jobs(engine, settings, 2)
    with make_session_factory(engine).begin() as session:
        completed = finished_job(session, add_user(session), JobStatus.COMPLETED, 12.5)
        completed.result = {"outputBytes": 1234, "credentials": {"signed": True}}
        queued = session.get_one(Job, queued_id)
        polls = [
            (queued.user_id, queued.id),
            (completed.user_id, completed.id),
            (queued.user_id, completed.id),
        ]
    now = utcnow()

    for user_id, job_id in polls:
        statement, parameters = poll_query(settings, user_id, job_id, now)
        with engine.connect() as connection:
            expected = connection.execute(statement, parameters).one()._asdict()
        row = asyncio.run(sessions.first(statement, parameters))
        assert row._asdict() == expected
        assert {key: type(value) for key, value in row._asdict().items()} == {
            key: type(value) for key, value in expected.items()
        }
        assert row.status is (expected["status"] and JobStatus(expected["status"]))
    first_job = asyncio.run(sessions.first(*poll_query(settings, uuid.uuid4(), queued_id, now)))
    assert first_job is None  # no such account: no row
    queued_row = asyncio.run(sessions.first(*poll_query(settings, polls[0][0], queued_id, now)))
    assert queued_row.status is JobStatus.QUEUED and queued_row.recent_average_seconds is not None
    assert queued_row.started_at is None or queued_row.started_at.tzinfo is not None


def test_the_video_list_is_one_statement_with_each_videos_latest_job(
    engine: Engine, settings: Settings
) -> None:
    """`GET /videos` (one statement through `RequestSessions.rows`): the caller's live videos
    only, newest first, each with the status and enhancer of its latest job; the total stays right
    on a page past the end; an account without videos lists none."""
    app = create_app(settings, engine=engine)
    with make_session_factory(engine).begin() as session:
        user, other, empty = add_user(session, plan=Plan.PRO), add_user(session), add_user(session)
        now = utcnow()
        retried = add_job(session, user, JobStatus.FAILED, enhancer="lanczos")
        retried.created_at = now - timedelta(minutes=5)
        again = Job(
            user_id=user.id, video_id=retried.video_id, status=JobStatus.QUEUED, enhancer="realesrgan-x4plus"
        )
        session.add(again)
        session.flush()
        retried_video = session.get_one(Video, retried.video_id)
        retried_video.created_at = now - timedelta(minutes=10)
        newest = add_job(session, user, JobStatus.COMPLETED, enhancer="lanczos")
        session.get_one(Video, newest.video_id).resolution = "640x360"
        deleted = add_job(session, user, JobStatus.CANCELED)
        session.get_one(Video, deleted.video_id).deleted_at = now
        add_job(session, other, JobStatus.QUEUED)
        expected = [str(newest.video_id), str(retried.video_id)]
        headers, empty_headers = bearer(user, settings), bearer(empty, settings)

    first, second, past_the_end, none = _poll_all(
        app,
        [
            ("/videos?limit=1", headers),
            ("/videos?limit=1&offset=1", headers),
            ("/videos?offset=5", headers),
            ("/videos", empty_headers),
        ],
    )

    assert [r.status_code for r in (first, second, past_the_end, none)] == [200] * 4
    assert [first.json()["total"], second.json()["total"], past_the_end.json()["total"]] == [2, 2, 2]
    assert [item["id"] for item in first.json()["items"] + second.json()["items"]] == expected
    (newest_out,) = first.json()["items"]
    assert (newest_out["status"], newest_out["enhancer"]) == ("COMPLETED", "lanczos")
    assert newest_out["sourceSize"] == {"width": 640, "height": 360}
    (retried_out,) = second.json()["items"]
    assert (retried_out["status"], retried_out["enhancer"]) == ("QUEUED", "realesrgan-x4plus")
    assert past_the_end.json()["items"] == []
    assert none.json() == {"items": [], "total": 0, "limit": 20, "offset": 0}


@pytest.mark.db_backends("postgresql")
def test_first_runs_on_a_connection_that_refuses_writes(engine: Engine, settings: Settings) -> None:
    """A SELECT that writes (a data-modifying CTE) is refused by the server itself."""
    sessions = create_app(settings, engine=engine).state.request_sessions
    added = insert(User).values(id=uuid.uuid4(), email="cte@example.com", password_hash="x")
    writing = select(added.returning(User.__table__.c.id).cte("added").c.id)

    with pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
        asyncio.run(sessions.first(writing, {}))
    with engine.connect() as connection:
        assert connection.scalar(select(User.id).where(User.email == "cte@example.com")) is None


@pytest.mark.db_backends("postgresql")
def test_a_read_on_a_connection_the_database_dropped_is_retried_once(
    engine: Engine, settings: Settings
) -> None:
    """The asyncio read pool has no pre-ping round trip: a connection found dead (the database
    restarted, a proxy timed it out) is dropped and the read repeated on a new one."""
    app = create_app(settings, engine=engine)
    (headers, job_id), *_ = _queued_jobs(engine, settings, 1)

    async def scenario() -> tuple[int, int, int]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            first = await client.get(f"/jobs/{job_id}", headers=headers)  # the pool now holds one
            with engine.connect() as admin:
                killed = admin.execute(
                    text(
                        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                        "WHERE datname = current_database() AND pid <> pg_backend_pid() AND state = 'idle'"
                    )
                ).scalar_one()
            second = await client.get(f"/jobs/{job_id}", headers=headers)
            return first.status_code, int(killed), second.status_code

    first, killed, second = asyncio.run(scenario())
    assert first == 200
    assert killed >= 1
    assert second == 200


@pytest.mark.parametrize("offline", [True, False])
def test_pictures_are_signed_on_the_loop_only_by_a_storage_that_signs_offline(
    engine: Engine, settings: Settings, offline: bool
) -> None:
    """`GET /videos` reads on the loop, but a signature that may call a service (IAM signBlob)
    is made in the thread pool."""
    storage = MemoryStorage(signs_offline=offline)
    app = create_app(settings, engine=engine, storage=storage)
    with make_session_factory(engine).begin() as session:
        user = add_user(session)
        job = add_job(session, user, JobStatus.COMPLETED)
        video = session.get_one(Video, job.video_id)
        video.thumbnail_path = f"users/{user.id}/videos/{video.id}/poster.jpg"
        headers = bearer(user, settings)
    signed_on: list[bool] = []
    original = storage.signed_download_url

    def recording(*args: Any, **kwargs: Any) -> Any:
        signed_on.append(_on_a_loop())
        return original(*args, **kwargs)

    with patch.object(storage, "signed_download_url", recording):
        (response,) = _poll_all(app, [("/videos", headers)])

    assert response.status_code == 200
    assert response.json()["items"][0]["thumbnailUrl"]
    assert signed_on == [offline]


def _on_a_loop() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


def test_a_write_unit_of_work_commits_whole_or_not_at_all(engine: Engine, settings: Settings) -> None:
    sessions = create_app(settings, engine=engine).state.request_sessions
    emails = [f"writer-{uuid.uuid4().hex[:8]}@example.com" for _ in range(2)]

    def add(email: str, then_fail: bool) -> Callable[[Session], str]:
        def work(session: Session) -> str:
            session.add(User(email=email, password_hash="not-a-real-hash"))
            session.flush()
            if then_fail:
                raise RuntimeError("after the insert")
            return email

        return work

    assert asyncio.run(sessions.write(add(emails[0], then_fail=False))) == emails[0]
    with pytest.raises(RuntimeError):
        asyncio.run(sessions.write(add(emails[1], then_fail=True)))

    with make_session_factory(engine)() as session:
        stored = set(session.scalars(select(User.email).where(User.email.in_(emails))))
    assert stored == {emails[0]}


def test_an_upload_runs_its_transaction_in_one_thread_hop(engine: Engine, settings: Settings) -> None:
    """From its first statement (where SQLite takes the write lock) to its commit, an upload
    never waits for the event loop: one thread hop, not one per dependency, endpoint and commit.
    Twenty uploads amid two hundred polls all succeed."""
    app = create_app(settings, engine=engine)
    jobs = _queued_jobs(engine, settings, 10)
    upload = {"filename": "a.mp4", "contentType": "video/mp4", "sizeBytes": 1000, "durationSeconds": 2.0}
    with _thread_hops() as hops:
        (single,) = asyncio.run(_all_at_once(app, [("POST", "/videos/upload", jobs[0][0], upload)]))
    assert single.status_code == 201
    assert hops == ["_write"]

    requests = [("POST", "/videos/upload", jobs[n % 10][0], upload) for n in range(20)]
    requests += [("GET", f"/jobs/{jobs[n % 10][1]}", jobs[n % 10][0], None) for n in range(200)]
    responses = asyncio.run(_all_at_once(app, requests))
    assert [r.status_code for r in responses] == [201] * 20 + [200] * 200
