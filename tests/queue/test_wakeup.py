"""Idle workers wake on NOTIFY (PostgreSQL) and poll on SQLite."""

from __future__ import annotations

import threading
import time

from sqlalchemy.orm import Session

from video_enhancer.config import Settings
from video_enhancer.jobs.lifecycle import enqueue_job
from video_enhancer.queue.testing import make_job, make_user
from video_enhancer.queue.wakeup import PollingWakeup, PostgresNotifyWakeup, make_wakeup


def test_sqlite_enqueue_relies_on_polling(session: Session, settings: Settings, db_backend: str) -> None:
    if db_backend != "sqlite":
        return  # the PostgreSQL path is the test below
    wakeup = make_wakeup(settings.database_url, threading.Event())
    assert isinstance(wakeup, PollingWakeup)
    enqueue_job(session, make_job(session, make_user(session)), settings)
    session.commit()
    assert wakeup.wait(0.05) is False  # nothing announces jobs: the worker polls


def test_notify_wakes_listener_on_commit_only(session: Session, settings: Settings, db_backend: str) -> None:
    if db_backend != "postgresql":
        return  # SQLite has no LISTEN/NOTIFY; covered by the test above
    stop = threading.Event()
    wakeup = make_wakeup(settings.database_url, stop)
    assert isinstance(wakeup, PostgresNotifyWakeup)
    try:
        job = make_job(session, make_user(session))
        enqueue_job(session, job, settings)
        assert wakeup.wait(0.3) is False  # not delivered before commit
        session.commit()
        committed = time.perf_counter()
        assert wakeup.wait(5.0) is True
        latency_ms = (time.perf_counter() - committed) * 1000
        print(f"\nNOTIFY wake-up latency: {latency_ms:.1f} ms")
        assert latency_ms < 500
    finally:
        wakeup.close()


def test_polling_wakeup_waits_interval_and_honours_stop() -> None:
    stop = threading.Event()
    wakeup = PollingWakeup(stop)
    began = time.perf_counter()
    assert wakeup.wait(0.2) is False
    assert time.perf_counter() - began >= 0.19
    stop.set()
    began = time.perf_counter()
    wakeup.wait(10)
    assert time.perf_counter() - began < 0.5


def test_sqlite_uses_polling() -> None:
    assert isinstance(make_wakeup("sqlite:///x.db", threading.Event()), PollingWakeup)
