"""Idle workers wake on NOTIFY (PostgreSQL) and poll on SQLite."""

from __future__ import annotations

import threading
import time

import pytest
from sqlalchemy.orm import Session

from factories import make_job, make_user
from video_enhancer.config import Settings
from video_enhancer.jobs.lifecycle import enqueue_job
from video_enhancer.queue.wakeup import PollingWakeup, PostgresNotifyWakeup, make_wakeup


@pytest.mark.db_backends("sqlite")
def test_sqlite_enqueue_relies_on_polling(session: Session, settings: Settings) -> None:
    wakeup = make_wakeup(settings.database_url, threading.Event())
    assert isinstance(wakeup, PollingWakeup)
    enqueue_job(session, make_job(session, make_user(session)), settings)
    session.commit()
    assert wakeup.wait(0.05) is False  # nothing announces jobs: the worker polls


@pytest.mark.db_backends("postgresql")  # SQLite has no LISTEN/NOTIFY: the test above
def test_notify_wakes_listener_on_commit_only(session: Session, settings: Settings) -> None:
    stop = threading.Event()
    wakeup = make_wakeup(settings.database_url, stop)
    assert isinstance(wakeup, PostgresNotifyWakeup)
    try:
        job = make_job(session, make_user(session))
        enqueue_job(session, job, settings)
        assert wakeup.wait(0.3) is False  # not delivered before commit
        session.commit()
        # True only on a notification; how fast it comes is measured by benchmarks/queue_wakeup.py,
        # not asserted here, where the machine may be loaded.
        assert wakeup.wait(5.0) is True
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
    assert time.perf_counter() - began < 5  # at once, not after the 10 s asked for


def test_sqlite_uses_polling() -> None:
    assert isinstance(make_wakeup("sqlite:///x.db", threading.Event()), PollingWakeup)
