"""Shared fixtures: every database test runs on SQLite and on PostgreSQL.

PostgreSQL is required: when it cannot be reached the tests fail rather than skip, so CI cannot
go green without having exercised it. Each test session gets its own PostgreSQL database (so
parallel runs do not collide), migrated with Alembic; tables are emptied after each test.

The one fixture set of the suite: the database fixtures here, and the API, media and worker
fixtures of the modules in `pytest_plugins`. Rows are made with `factories.py`.

Markers: a test's PostgreSQL variant carries `postgres`, everything under `tests/cloud` carries
`cloud`, so `make test-fast` (`-m "not postgres and not cloud"`) is the SQLite-only, no-emulator
subset. `@pytest.mark.db_backends("postgresql")` limits a test to the backends it is about.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.orm import Session, sessionmaker

from video_enhancer.config import Settings
from video_enhancer.db import make_engine, make_session_factory
from video_enhancer.models import Base

pytest_plugins = ["fixtures_api", "fixtures_media", "fixtures_worker"]

ROOT = Path(__file__).resolve().parents[1]
PG_ADMIN_URL = os.environ.get("VE_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
DB_BACKENDS = ["sqlite", "postgresql"]


def run_migrations(url: str) -> None:
    config = Config(str(ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(ROOT / "migrations"))
    config.attributes["url"] = url
    command.upgrade(config, "head")


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("sqlite-template") / "template.db"
    run_migrations(f"sqlite:///{path}")
    return path


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    name = f"ve_test_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:  # pragma: no cover - the environment is broken, say so loudly
        pytest.fail(f"PostgreSQL is required for the test suite and is not reachable: {exc}")
    url = PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    run_migrations(url)
    yield url
    with admin.connect() as conn:
        conn.execute(
            text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE datname = :n AND pid <> pg_backend_pid()"
            ),
            {"n": name},
        )
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
    admin.dispose()


def _truncate_all(url: str) -> None:
    engine = create_engine(url)
    tables = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
    with engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    engine.dispose()


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Every test on the database runs once per backend; the PostgreSQL run is marked `postgres`."""
    if "db_backend" not in metafunc.fixturenames:
        return
    only = metafunc.definition.get_closest_marker("db_backends")
    backends = [name for name in DB_BACKENDS if only is None or name in only.args]
    marks = {"postgresql": [pytest.mark.postgres], "sqlite": []}
    params = [pytest.param(name, marks=marks[name], id=name) for name in backends]
    metafunc.parametrize("db_backend", params, indirect=True)


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests under tests/cloud start the emulators: marked `cloud`, like tests using PostgreSQL alone."""
    cloud = ROOT / "tests" / "cloud"
    for item in items:
        if item.path.is_relative_to(cloud):
            item.add_marker(pytest.mark.cloud)
        if "postgres_url" in getattr(item, "fixturenames", ()) and "db_backend" not in item.fixturenames:
            item.add_marker(pytest.mark.postgres)


@pytest.fixture
def db_backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def database_url(db_backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if db_backend == "sqlite":
        path = tmp_path / "test.db"
        shutil.copyfile(request.getfixturevalue("sqlite_template"), path)
        yield f"sqlite:///{path}"
        return
    url = request.getfixturevalue("postgres_url")
    yield url
    _truncate_all(url)


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return Settings(
        env="test",
        database_url=database_url,
        storage="local",
        storage_root=tmp_path / "storage",
        worker_scratch_dir=tmp_path / "scratch",
        content_credentials_dev_dir=tmp_path / "c2pa",
        bcrypt_rounds=4,  # the production default (12) is asserted in the auth tests
        public_base_url="http://testserver",
        encoder_preset="ultrafast",
        queue="database",
    )


@pytest.fixture
def engine(settings: Settings) -> Iterator[Engine]:
    engine = make_engine(settings.database_url, pool_size=5)
    yield engine
    engine.dispose()


@pytest.fixture
def session_factory(engine: Engine) -> sessionmaker[Session]:
    return make_session_factory(engine)


@pytest.fixture
def session(session_factory: sessionmaker[Session]) -> Iterator[Session]:
    with session_factory() as session:
        yield session
