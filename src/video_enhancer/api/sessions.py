"""A request's unit of work: which session it gets, and how many requests hold one at once.

Endpoints marked `@reads_only` (`GET /jobs`, `GET /videos`) get a read-only session for GET and
HEAD (`db.make_read_session_factory`): on SQLite they no longer queue behind the write lock, on
PostgreSQL they skip `BEGIN`/`COMMIT`. It is opt-in, not every GET: some GETs write (`/users/me`
rolls the billing cycle over), and a read-only session refuses any write. The most polled read,
`GET /jobs/{jobId}`, skips the ORM session too: `RequestSessions.read` runs its Core statements on
a read-only connection, all in one thread hop.

Admission: a request's database work runs in the thread pool, one thread hop per sync
dependency and per endpoint, and its session holds a pooled connection from its first query to
its commit. With more requests in flight than connections, threads blocked on the pool's checkout
can take every thread the requests holding connections need to finish: nothing moves until the
pool's 30 s timeout fails them (the 500s seen with 50 clients on SQLite). So at most `capacity`
requests (the pool's size, below the thread pool's 40) hold a session at once; the others wait
here, on the event loop, holding neither a thread nor a connection. A request may wait; it does
not fail for want of a connection. The pool's overflow is left to what opens sessions of its own
(event streams, uploads through signed URLs, the event broker).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

import anyio
from sqlalchemy import Connection, Engine
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import QueuePool

from video_enhancer.db import make_read_engine, make_read_session_factory, make_session_factory

READ_METHODS = frozenset({"GET", "HEAD"})
_READS_ONLY = "_ve_reads_only"
Endpoint = TypeVar("Endpoint", bound=Callable[..., Any])
Read = TypeVar("Read")


def reads_only(endpoint: Endpoint) -> Endpoint:
    """Mark an endpoint that never writes: its GET and HEAD requests get a read-only session."""
    setattr(endpoint, _READS_ONLY, True)
    return endpoint


def wants_read_only(method: str, endpoint: object) -> bool:
    return method in READ_METHODS and getattr(endpoint, _READS_ONLY, False)


@dataclass(frozen=True, slots=True)
class RequestSessions:
    writer: sessionmaker[Session]
    reader: sessionmaker[Session]
    read_engine: Engine
    admission: anyio.Semaphore
    capacity: int

    @classmethod
    def for_engine(cls, engine: Engine, default_capacity: int) -> RequestSessions:
        pool = engine.pool
        capacity = pool.size() if isinstance(pool, QueuePool) else default_capacity
        return cls(
            make_session_factory(engine),
            make_read_session_factory(engine),
            make_read_engine(engine),
            anyio.Semaphore(capacity),
            capacity,
        )

    @asynccontextmanager
    async def unit_of_work(self, read_only: bool) -> AsyncIterator[Session]:
        """Commit when the endpoint returns, roll back on error; commit and close in one thread hop."""
        async with self.admission:
            session = (self.reader if read_only else self.writer)()
            try:
                yield session
            except BaseException:
                with anyio.CancelScope(shield=True):
                    await anyio.to_thread.run_sync(_discard, session)
                raise
            with anyio.CancelScope(shield=True):
                await anyio.to_thread.run_sync(_commit, session)

    async def read(self, work: Callable[[Connection], Read]) -> Read:
        """Run `work` on a read-only connection in one thread hop, admitted like a unit of work.

        For the hottest reads: no ORM session (identity map, unit of work) and one hop instead of
        one per sync dependency, endpoint and commit.
        """
        async with self.admission:
            return await anyio.to_thread.run_sync(self._read, work)

    def _read(self, work: Callable[[Connection], Read]) -> Read:
        with self.read_engine.connect() as connection:
            return work(connection)


def _commit(session: Session) -> None:
    try:
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def _discard(session: Session) -> None:
    try:
        session.rollback()
    finally:
        session.close()
