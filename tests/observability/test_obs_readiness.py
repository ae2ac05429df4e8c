"""`/healthz` and `/readyz` against the real database and local storage, healthy and broken."""

from __future__ import annotations

import shutil
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import Engine, text

from video_enhancer.app import create_app
from video_enhancer.config import Settings
from video_enhancer.db import find_migrations_dir, make_engine
from video_enhancer.observability.readiness import script_heads

from .scrape import metric_value


def _unreachable_url(settings: Settings, tmp_path: Path) -> str:
    if settings.is_sqlite:
        return f"sqlite:///{tmp_path}/missing-folder/never.db"  # the folder does not exist: cannot open
    return "postgresql+psycopg://postgres@127.0.0.1:1/unreachable?connect_timeout=2"


def test_ready_when_database_storage_and_schema_are_fine(client: TestClient) -> None:
    response = client.get("/readyz")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "ready"
    assert body["checks"]["database"] == {"ok": True}
    assert body["checks"]["storage"] == {"ok": True, "backend": "local"}
    migrations = body["checks"]["migrations"]
    assert migrations["ok"] is True and migrations["current"] == migrations["head"] == list(script_heads())
    assert metric_value(client, "ve_readiness_check_ok", {"check": "database"}) == 1.0


def test_script_head_is_read_from_the_migrations_folder() -> None:
    heads = script_heads()
    assert len(heads) == 1
    assert any(path.name.startswith(heads[0]) for path in (find_migrations_dir() / "versions").glob("*.py"))


def test_not_ready_when_the_database_is_unreachable(settings: Settings, tmp_path: Path) -> None:
    broken = settings.model_copy(update={"database_url": _unreachable_url(settings, tmp_path)})
    engine = make_engine(broken.database_url, pool_size=1)
    with TestClient(create_app(broken, engine=engine), raise_server_exceptions=False) as client:
        assert client.get("/healthz").status_code == 200  # alive, just not ready
        response = client.get("/readyz")
        assert response.status_code == 503
        checks = response.json()["checks"]
        assert checks["database"]["ok"] is False and checks["database"]["error"] == "OperationalError"
        assert checks["migrations"] == {"ok": False, "error": "database unreachable"}
        assert checks["storage"]["ok"] is True
        assert "127.0.0.1:1" not in response.text and "missing-folder" not in response.text
        assert metric_value(client, "ve_readiness_check_ok", {"check": "database"}) == 0.0
    engine.dispose()


def test_not_ready_when_migrations_are_behind(client: TestClient, engine: Engine) -> None:
    (head,) = script_heads()
    with engine.begin() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = 'older'"))
    try:
        response = client.get("/readyz")
        assert response.status_code == 503
        migrations = response.json()["checks"]["migrations"]
        assert migrations["ok"] is False
        assert migrations["current"] == ["older"] and migrations["head"] == [head]
        assert response.json()["checks"]["database"]["ok"] is True
    finally:
        with engine.begin() as connection:  # the PostgreSQL database is shared by the session
            connection.execute(text("UPDATE alembic_version SET version_num = :head"), {"head": head})
    assert client.get("/readyz").status_code == 200


def test_not_ready_before_the_first_migration(settings: Settings, engine: Engine) -> None:
    with engine.begin() as connection:
        version = connection.execute(text("SELECT version_num FROM alembic_version")).scalar_one()
        connection.execute(text("DELETE FROM alembic_version"))
    try:
        with TestClient(create_app(settings, engine=engine)) as client:
            response = client.get("/readyz")
        assert response.status_code == 503
        assert response.json()["checks"]["migrations"]["current"] == []
    finally:
        with engine.begin() as connection:
            connection.execute(text("INSERT INTO alembic_version (version_num) VALUES (:v)"), {"v": version})


def test_not_ready_when_storage_is_unusable(client: TestClient, settings: Settings) -> None:
    shutil.rmtree(settings.storage_root)
    response = client.get("/readyz")
    assert response.status_code == 503
    storage = response.json()["checks"]["storage"]
    assert storage == {"ok": False, "error": "StorageUnavailable"}
    assert response.json()["checks"]["database"]["ok"] is True
