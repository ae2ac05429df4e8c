"""A request's unit of work: which session it gets, and how many requests hold one at once.

An endpoint that may write takes `SessionDep`: one transaction, committed when it returns (or,
amid polling, passes its work to `RequestSessions.write`: the same transaction in one thread
hop, so SQLite's write lock is never held while the request waits for the loop). The reads apps
poll (`GET /jobs/{jobId}`, `GET /jobs`, `GET /videos`) take neither a dependency nor a
transaction: each is one SELECT, built once, read by `RequestSessions.rows` reading only, in
autocommit (on SQLite no write lock is taken, on PostgreSQL no `BEGIN`/`COMMIT` is sent, and the
server refuses a write). Some GETs write (`/users/me` rolls the billing cycle over): they keep
`SessionDep`.

Admission: a request's database work runs in the thread pool, one thread hop per sync
dependency and per endpoint, and its session holds a pooled connection from its first query to
its commit. With more requests in flight than connections, threads blocked on the pool's checkout
can take every thread the requests holding connections need to finish: nothing moves until the
pool's 30 s timeout fails them (the 500s seen with 50 clients on SQLite). So at most `capacity`
requests (the pool's size, below the thread pool's 40) hold a session at once; the others wait
here, on the event loop, holding neither a thread nor a connection. A request may wait; it does
not fail for want of a connection. The pool's overflow is left to what opens sessions of its own
(event streams, uploads through signed URLs, the event broker).

Polled reads skip the thread pool and SQLAlchemy's execution layer where the database allows,
because the hop to a thread and back, and that layer, each cost more than the statement: the
statement is compiled once (`db.CompiledSelect`: its parameters and rows converted as SQLAlchemy
converts them) and run on the driver's own connection. On a SQLite file that is the event loop's
own read-only connection (a local read of a few pages in WAL mode, which takes no lock a writer
holds; should one ever meet a lock, it never sleeps on the loop: it tries again after short
pauses that let other requests run, then waits in the thread pool); on PostgreSQL with psycopg,
psycopg's asyncio connections (`AsyncReads`, `read_pool_size` of them), so the loop serves other
requests while the database answers. Anything else reads in the thread pool through SQLAlchemy
(`read`, which also runs any other read-only work).
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from functools import partial
from typing import Any, TypeVar

import anyio
import psycopg
from sqlalchemy import Connection, Engine, Select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import QueuePool

from video_enhancer.db import (
    CompiledSelect,
    CompiledSelects,
    make_loop_read_engine,
    make_read_engine,
    make_session_factory,
    session_scope,
)

Read = TypeVar("Read")
# A read on the event loop that meets a SQLite lock tries again after these pauses (about 40 ms in
# all), then waits in the thread pool under SQLite's busy handler.
LOOP_READ_PAUSES = (0.0, 0.001, 0.002, 0.005, 0.01, 0.02)


@dataclass(frozen=True, slots=True)
class RequestSessions:
    writer: sessionmaker[Session]
    read_engine: Engine
    admission: anyio.Semaphore
    capacity: int
    loop_reads: LoopReads | None = None
    async_reads: AsyncReads | None = None

    @classmethod
    def for_engine(cls, engine: Engine, default_capacity: int) -> RequestSessions:
        pool = engine.pool
        capacity = pool.size() if isinstance(pool, QueuePool) else default_capacity
        loop_engine = make_loop_read_engine(engine)
        return cls(
            make_session_factory(engine),
            make_read_engine(engine),
            anyio.Semaphore(capacity),
            capacity,
            LoopReads(loop_engine) if loop_engine is not None else None,
            AsyncReads(engine, read_pool_size(capacity)) if AsyncReads.serves(engine) else None,
        )

    @asynccontextmanager
    async def unit_of_work(self) -> AsyncIterator[Session]:
        """Commit when the endpoint returns, roll back on error; commit and close in one thread hop."""
        async with self.admission:
            session = self.writer()
            try:
                yield session
            except BaseException:
                with anyio.CancelScope(shield=True):
                    await anyio.to_thread.run_sync(_discard, session)
                raise
            with anyio.CancelScope(shield=True):
                await anyio.to_thread.run_sync(_commit, session)

    async def write(self, work: Callable[[Session], Read]) -> Read:
        """A unit of work that may write, run whole in one thread hop: committed when `work`
        returns, rolled back if it raises.

        For writes that arrive amid polling (`POST /videos/upload`): with `SessionDep` the
        transaction spans three hops (the user dependency, the endpoint, the commit), and on
        SQLite the write lock taken at its first statement was held while the request waited
        for a busy event loop between them, so other writers slept in SQLite's busy handler for
        seconds. Here the lock is held only while `work` runs. Not cancelled halfway: a client
        that goes away does not roll back work that is already committing.
        """
        async with self.admission:
            return await anyio.to_thread.run_sync(self._write, work)

    async def read(self, work: Callable[[Connection], Read]) -> Read:
        """Run `work` on a read-only connection: on the event loop on a SQLite file, else in one
        thread hop, admitted like a unit of work. `work` must not write (`ReadOnlyViolation`);
        each of its statements reads its own snapshot.
        """
        if self.loop_reads is not None:
            done, result = await _on_the_loop(partial(self.loop_reads.try_read, work))
            if done:
                return result
        return await self._read_in_a_thread(work)

    async def rows(self, statement: Select[Any], parameters: dict[str, Any]) -> list[Any]:
        """The rows of one SELECT, read only: `read` of
        `connection.execute(statement, parameters).all()`, except that the statement, compiled
        once, runs on the driver's own connection: on a SQLite file on the loop's sqlite3
        connection (`LoopReads.try_rows`), on PostgreSQL on a psycopg asyncio connection
        (`AsyncReads.rows`), without SQLAlchemy's execution layer, which costs a short statement
        more than the statement itself.

        For what apps poll (`GET /jobs/{jobId}`, `GET /jobs`, `GET /videos`). Rows read like `Row`s: by
        column name, and `_asdict()`; values are converted as SQLAlchemy converts them.
        """
        if self.async_reads is not None:
            return await self.async_reads.rows(statement, parameters)
        if self.loop_reads is not None:
            compiled = self.loop_reads.compiled_of(statement)
            done, rows = await _on_the_loop(
                partial(self.loop_reads.try_rows, compiled, compiled.parameters(parameters))
            )
            if done:
                return rows
        return await self._read_in_a_thread(partial(_all_rows, statement, parameters))

    async def first(self, statement: Select[Any], parameters: dict[str, Any]) -> Any:
        """The first row of `rows` (None without any)."""
        found = await self.rows(statement, parameters)
        return found[0] if found else None

    async def close(self) -> None:
        if self.loop_reads is not None:
            self.loop_reads.close()
        if self.async_reads is not None:
            await self.async_reads.close()

    def _write(self, work: Callable[[Session], Read]) -> Read:
        with session_scope(self.writer) as session:
            return work(session)

    async def _read_in_a_thread(self, work: Callable[[Connection], Read]) -> Read:
        async with self.admission:
            return await anyio.to_thread.run_sync(self._read, work)

    def _read(self, work: Callable[[Connection], Read]) -> Read:
        with self.read_engine.connect() as connection:
            return work(connection)


def read_pool_size(capacity: int) -> int:
    """Connections of the asyncio read pool: a read holds one only while PostgreSQL answers, so
    half the request pool keeps the event loop busy (the connection budget in docs/cloud.md)."""
    return max(2, capacity // 2)


async def _on_the_loop(attempt: Callable[[], tuple[bool, Read]]) -> tuple[bool, Read]:
    """`attempt` a loop read (`LoopReads.try_read`, `try_rows`) until it is done, after short
    pauses that let other requests run while a lock is held; (False, ...) once they are spent."""
    done, result = False, None
    for pause in LOOP_READ_PAUSES:
        if pause:
            await asyncio.sleep(pause)  # a lock met: other requests run meanwhile
        done, result = attempt()
        if done:
            break
    return done, result  # type: ignore[return-value]


def _all_rows(statement: Select[Any], parameters: dict[str, Any], connection: Connection) -> list[Any]:
    return list(connection.execute(statement, parameters).all())


@dataclass(eq=False)
class LoopReads:
    """SQLite reads on the event loop, one read-only connection per loop thread.

    One connection per thread, not a pool: reads on a loop never overlap, and a loop keeps its
    thread (a test client runs its app on a thread of its own).
    """

    engine: Engine
    _local: threading.local = field(default_factory=threading.local)
    _opened: list[Connection] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _compiled: CompiledSelects = field(default_factory=CompiledSelects)

    def try_read(self, work: Callable[[Connection], Read]) -> tuple[bool, Any]:
        """(True, result) when read here; (False, None) when the database was locked: the caller
        reads in the thread pool instead, where waiting does not hold up the loop."""
        connection = self._connection()
        try:
            return True, work(connection)
        except OperationalError as exc:
            if not _is_locked(exc):
                raise
            return False, None
        finally:
            if connection.in_transaction():
                connection.rollback()  # no statement was written; this only resets SQLAlchemy's state

    def try_rows(self, compiled: CompiledSelect, parameters: Any) -> tuple[bool, list[Any]]:
        """`try_read` of one compiled SELECT, run on the connection's sqlite3 connection itself
        (`RequestSessions.rows`)."""
        driver: sqlite3.Connection = self._connection().connection.driver_connection  # type: ignore[assignment]
        try:
            cursor = driver.execute(compiled.sql, parameters)
            try:
                values = cursor.fetchall()
            finally:
                cursor.close()
        except sqlite3.OperationalError as exc:
            if not _is_locked_message(str(exc)):
                raise
            return False, []
        return True, [compiled.row(row, cursor) for row in values]

    def compiled_of(self, statement: Select[Any]) -> CompiledSelect:
        return self._compiled.of(statement, self.engine.dialect)

    def close(self) -> None:
        with self._lock:
            opened, self._opened = self._opened, []
        for connection in opened:
            connection.close()

    def _connection(self) -> Connection:
        connection: Connection | None = getattr(self._local, "connection", None)
        if connection is None or connection.closed or connection.invalidated:
            connection = self.engine.connect()
            self._local.connection = connection
            with self._lock:
                self._opened.append(connection)
        return connection


def _is_locked(exc: OperationalError) -> bool:
    return _is_locked_message(str(exc.orig))


def _is_locked_message(message: str) -> bool:
    lowered = message.lower()
    return "locked" in lowered or "busy" in lowered


class AsyncReads:
    """Compiled SELECTs (`RequestSessions.rows`) awaited on psycopg's asyncio connections: at most
    `size` at once (the rest wait here, never in a pool's 30 s checkout timeout), each on a
    connection kept for the next (up to `size`), in autocommit and read only
    (`default_transaction_read_only`: the server refuses a write). No pre-ping round trip: a read
    that finds its connection dead (the database restarted since, a proxy timed it out) is retried
    once on a new one; reads can be repeated.

    An asyncio connection belongs to the event loop that opened it: when the app is served by
    another loop than before (test clients start one per call), the connections start afresh.
    """

    def __init__(self, engine: Engine, size: int) -> None:
        self.dialect = engine.dialect
        self.size = size
        # The engine's own connection settings (its psycopg adapters included).
        args, self._connect_args = engine.dialect.create_connect_args(engine.url)
        assert not args, "psycopg's dialect passes keywords only"
        self._admission: tuple[asyncio.AbstractEventLoop, asyncio.Semaphore] | None = None
        self._idle: list[psycopg.AsyncConnection[Any]] = []
        self._compiled = CompiledSelects()

    @staticmethod
    def serves(engine: Engine) -> bool:
        return engine.dialect.name == "postgresql" and engine.dialect.driver == "psycopg"

    async def rows(self, statement: Select[Any], parameters: dict[str, Any]) -> list[Any]:
        compiled = self._compiled.of(statement, self.dialect)
        async with self._admission_of_this_loop():
            return await self._rows_once(compiled, compiled.parameters(parameters), retry=True)

    async def _rows_once(self, compiled: CompiledSelect, parameters: Any, retry: bool) -> list[Any]:
        connection = self._idle.pop() if self._idle else await self._connect()
        try:
            cursor = await connection.execute(compiled.sql, parameters)
            values = await cursor.fetchall()
        except BaseException as exc:
            dead = isinstance(exc, psycopg.OperationalError) and connection.broken
            await connection.close()  # dead, or cancelled amid the statement: its state is unknown
            if dead and retry:
                return await self._rows_once(compiled, parameters, retry=False)
            raise
        self._idle.append(connection)
        return [compiled.row(row, cursor) for row in values]

    async def close(self) -> None:
        idle, self._idle = self._idle, []
        for connection in idle:
            await connection.close()

    async def _connect(self) -> psycopg.AsyncConnection[Any]:
        connection = await psycopg.AsyncConnection.connect(**self._connect_args, autocommit=True)
        await connection.execute("SET default_transaction_read_only = on")
        return connection

    def _admission_of_this_loop(self) -> asyncio.Semaphore:
        loop = asyncio.get_running_loop()
        if self._admission is None or self._admission[0] is not loop:
            if self._admission is not None:  # another loop's connections
                idle, self._idle = self._idle, []
                for connection in idle:
                    connection.pgconn.finish()  # what `close` does; it never waits
            self._admission = (loop, asyncio.Semaphore(self.size))
        return self._admission[1]


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
