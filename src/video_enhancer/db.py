"""Engine and session handling. One request = one transaction (see `session_scope`)."""

from __future__ import annotations

import re
from collections import namedtuple
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Dialect,
    Engine,
    Select,
    Subquery,
    Table,
    bindparam,
    create_engine,
    event,
    make_url,
    select,
)
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import NullPool

# Execution option of the read-only engines (`make_read_engine`, `make_loop_read_engine`, ...).
READ_ONLY = "ve_read_only"

_WRITE_STATEMENT = re.compile(
    r"\s*(INSERT|UPDATE|DELETE|REPLACE|MERGE|UPSERT|CREATE|DROP|ALTER|TRUNCATE)\b", re.IGNORECASE
)


class ReadOnlyViolation(RuntimeError):
    """A unit of work opened for reading tried to write: a programming error (a GET that writes)."""


def make_engine(database_url: str, *, pool_size: int = 10, echo: bool = False) -> Engine:
    """Create an engine tuned for the backend.

    SQLite runs in WAL mode with a busy timeout so API and worker processes can share the file;
    `BEGIN IMMEDIATE` makes every writing transaction take the write lock up front, which
    serialises quota checks the way `SELECT ... FOR UPDATE` does on PostgreSQL. Both backends pool
    `pool_size` connections plus as many again of overflow.
    """
    if database_url.startswith("sqlite"):
        in_memory = make_url(database_url).database in (None, "", ":memory:")
        engine = create_engine(
            database_url,
            echo=echo,
            connect_args={"check_same_thread": False, "timeout": 30},
            **({} if in_memory else {"pool_size": pool_size, "max_overflow": pool_size}),
        )
        _configure_sqlite(engine)
    else:
        engine = create_engine(
            database_url, echo=echo, pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=True
        )
    _refuse_writes_when_read_only(engine)
    return engine


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy, not pysqlite, decide where transactions begin.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        # A reader opens no transaction: in WAL mode each of its statements reads a snapshot while
        # a writer holds the write lock, instead of queueing behind it in SQLite's busy handler
        # (which sleeps in steps of up to 100 ms).
        if not connection.get_execution_options().get(READ_ONLY, False):
            connection.exec_driver_sql("BEGIN IMMEDIATE")


def _refuse_writes_when_read_only(engine: Engine) -> None:
    @event.listens_for(engine, "before_cursor_execute")
    def _check(connection: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if connection.get_execution_options().get(READ_ONLY, False) and _WRITE_STATEMENT.match(statement):
            raise ReadOnlyViolation(f"a read-only unit of work tried to write: {statement[:60]}")


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(bind=engine, expire_on_commit=False, autoflush=True)


def make_read_engine(engine: Engine) -> Engine:
    """The same pool, reading only, in autocommit: no write lock on SQLite (see `_on_begin`), no
    `BEGIN` and `COMMIT` round trips on PostgreSQL; each statement reads its own snapshot. A
    statement that writes is refused with `ReadOnlyViolation`."""
    options: dict[str, Any] = {READ_ONLY: True}
    if engine.dialect.name == "postgresql":
        options["isolation_level"] = "AUTOCOMMIT"
    return engine.execution_options(**options)


def make_loop_read_engine(engine: Engine) -> Engine | None:
    """For a SQLite file: connections that only read, for use on the event loop (`api.sessions`).

    `PRAGMA query_only` refuses writes in SQLite itself, besides `ReadOnlyViolation`; there is no
    busy timeout, so a reader that ever meets a lock returns at once instead of sleeping on the
    loop (its caller waits off the loop and retries). None for other databases (and in-memory
    SQLite: a new connection would open another, empty database).
    """
    url = engine.url
    if url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:"):
        return None
    # `timeout=0`: no busy handler (pysqlite sets SQLite's busy timeout from it).
    loop_engine = create_engine(
        url, poolclass=NullPool, connect_args={"check_same_thread": False, "timeout": 0}
    )

    @event.listens_for(loop_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # no transaction: each statement reads a snapshot
        dbapi_connection.execute("PRAGMA query_only=ON")

    _refuse_writes_when_read_only(loop_engine)
    return loop_engine.execution_options(**{READ_ONLY: True})


def newest_page(table: Table, condition: ColumnElement[bool]) -> Subquery:
    """The rows of `table` that meet `condition`, newest first (`created_at`, then `id`), one page
    of them: the bind parameters `limit` and `offset` (the lists apps poll)."""
    return (
        select(table)
        .where(condition)
        .order_by(table.c.created_at.desc(), table.c.id.desc())
        .limit(bindparam("limit"))
        .offset(bindparam("offset"))
        .subquery("page")
    )


class CompiledSelect:
    """A SELECT compiled once for a dialect, run on the driver's own connection: its parameters
    and rows are converted as SQLAlchemy would (enums, UTC datetimes, JSON), without its
    execution layer, which costs more than a short statement. Rows are named tuples with the
    statement's column names (`row.status`, `row._asdict()`), as a `Row` reads."""

    def __init__(self, statement: Select[Any], dialect: Dialect) -> None:
        compiled = statement.compile(dialect=dialect)
        self.sql = str(compiled)
        self._positions: list[str] | None = compiled.positiontup  # type: ignore[attr-defined]
        # Parameters the statement holds (`status = 'QUEUED'`) are converted once; those without
        # a value (`bindparam("user_id")`) are given at each call, by their key.
        self._fixed: dict[str, Any] = {}
        self._given: list[tuple[str, str, Callable[[Any], Any] | None]] = []
        for bind, name in compiled.bind_names.items():  # type: ignore[attr-defined]
            processor = bind.type.dialect_impl(dialect).bind_processor(dialect)
            if bind.required:
                self._given.append((bind.key, name, processor))
            else:
                value = bind.effective_value
                self._fixed[name] = value if processor is None or value is None else processor(value)
        self._dialect = dialect
        self._types = [column.type for column in statement.selected_columns]
        self._row = namedtuple("CompiledRow", [column.name for column in statement.selected_columns])  # type: ignore[misc]
        self._conversions: list[tuple[int, Callable[[Any], Any]]] | None = None

    def parameters(self, values: Mapping[str, Any]) -> dict[str, Any] | tuple[Any, ...]:
        """The driver's parameters: by name, or in order for a positional paramstyle (SQLite's)."""
        parameters = dict(self._fixed)
        for key, name, processor in self._given:
            value = values[key]
            parameters[name] = value if processor is None else processor(value)
        if self._positions is not None:
            return tuple(parameters[name] for name in self._positions)
        return parameters

    def row(self, values: Sequence[Any], cursor: Any) -> Any:
        """The row of `values`, read by `cursor` (a DB-API cursor): the driver's type of each
        column, on which some conversions depend, is read from its description once (building
        a description costs more than converting the row)."""
        if self._conversions is None:
            processors = (
                type_.dialect_impl(self._dialect).result_processor(self._dialect, column[1])  # type_code
                for type_, column in zip(self._types, cursor.description, strict=True)
            )
            self._conversions = [(index, p) for index, p in enumerate(processors) if p is not None]
        converted = list(values)
        for index, processor in self._conversions:
            converted[index] = processor(converted[index])
        return self._row._make(converted)  # type: ignore[attr-defined]


class CompiledSelects:
    """Statements compiled once (`CompiledSelect`), by the statement they were compiled from."""

    def __init__(self) -> None:
        self._known: dict[int, tuple[Select[Any], CompiledSelect]] = {}

    def of(self, statement: Select[Any], dialect: Dialect) -> CompiledSelect:
        known = self._known.get(id(statement))
        if known is None or known[0] is not statement:
            known = (statement, CompiledSelect(statement, dialect))
            self._known[id(statement)] = known
        return known[1]


def make_read_session_factory(engine: Engine) -> sessionmaker[Session]:
    """Sessions on `make_read_engine`."""
    return sessionmaker(bind=make_read_engine(engine), expire_on_commit=False, autoflush=True)


@contextmanager
def session_scope(factory: sessionmaker[Session]) -> Iterator[Session]:
    """A unit of work: commit on success, roll back on any error."""
    session = factory()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def find_migrations_dir() -> Path:
    """The Alembic scripts: beside the source tree in a checkout, else ./migrations (the images'
    working directory holds them, since an installed package has no repository around it)."""
    candidates = (Path(__file__).resolve().parents[2] / "migrations", Path.cwd() / "migrations")
    for candidate in candidates:
        if (candidate / "env.py").is_file():
            return candidate
    raise FileNotFoundError(
        "Alembic migrations not found; run from the repository root or the image's working directory"
    )
