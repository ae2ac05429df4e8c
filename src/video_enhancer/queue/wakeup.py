"""How an idle worker waits for the next job: LISTEN/NOTIFY on PostgreSQL, polling on SQLite.

`enqueue_job` (and a hand-back or lease recovery) issues `pg_notify('ve_jobs', ...)` inside its
transaction; PostgreSQL delivers it on commit, so a listening worker claims the job within
milliseconds instead of a poll interval. Notifications are only a hint: a worker always claims
with `claim_next_job`, and also wakes after `timeout` to catch a job whose `run_after` passed.
"""

from __future__ import annotations

import threading
from typing import Protocol

import psycopg
from sqlalchemy import make_url

from video_enhancer.queue.service import NOTIFY_CHANNEL


class JobWakeup(Protocol):
    def wait(self, timeout: float) -> bool:
        """Block until a job may be waiting (True) or `timeout` seconds pass (False)."""
        ...

    def close(self) -> None: ...


class PollingWakeup:
    """SQLite: nothing announces new jobs, so wait the poll interval (or until stopped)."""

    def __init__(self, stop: threading.Event) -> None:
        self._stop = stop

    def wait(self, timeout: float) -> bool:
        self._stop.wait(timeout)
        return False

    def close(self) -> None:
        return None


class PostgresNotifyWakeup:
    """A dedicated autocommit connection that LISTENs on the worker channel."""

    # Waits in short slices so a stop request is honoured promptly.
    SLICE_SECONDS = 0.5

    def __init__(self, database_url: str, stop: threading.Event, channel: str = NOTIFY_CHANNEL) -> None:
        url = make_url(database_url).set(drivername="postgresql")
        self._stop = stop
        self._conn = psycopg.connect(url.render_as_string(hide_password=False), autocommit=True)
        self._conn.execute(psycopg.sql.SQL("LISTEN {}").format(psycopg.sql.Identifier(channel)))

    def wait(self, timeout: float) -> bool:
        remaining = timeout
        while remaining > 0 and not self._stop.is_set():
            step = min(self.SLICE_SECONDS, remaining)
            for _notify in self._conn.notifies(timeout=step, stop_after=1):
                return True
            remaining -= step
        return False

    def close(self) -> None:
        self._conn.close()


def make_wakeup(database_url: str, stop: threading.Event) -> JobWakeup:
    if database_url.startswith("postgresql"):
        return PostgresNotifyWakeup(database_url, stop)
    return PollingWakeup(stop)
