"""Readiness checks of the API: database reachable, storage reachable, schema migrated to head.

`/readyz` also names the enhancer the workers are configured to run (`enhancer_details`), so a
deployment that fell back to the classical Lanczos resampler says so before any job completes.

Each check returns a `CheckResult` instead of raising, so `/readyz` can report every failing
dependency at once. Error details name the exception class only: `/readyz` is unauthenticated
and a driver message may carry host names or credentials (the full error goes to the log).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import ColumnClause, Connection, Engine, column, inspect, select, table, text

from video_enhancer.config import Settings
from video_enhancer.db import find_migrations_dir
from video_enhancer.observability.metrics import READINESS_CHECK
from video_enhancer.storage.base import Storage

logger = logging.getLogger(__name__)

VERSION_TABLE = "alembic_version"


@dataclass(frozen=True, slots=True)
class CheckResult:
    ok: bool
    error: str | None = None
    details: dict[str, str | list[str] | None] = field(default_factory=dict)

    def as_dict(self) -> dict[str, object]:
        body: dict[str, object] = {"ok": self.ok, **self.details}
        if self.error is not None:
            body["error"] = self.error
        return body


@lru_cache(maxsize=4)
def script_heads(migrations_dir: Path | None = None) -> tuple[str, ...]:
    """Head revisions of the migration scripts (read once: the scripts do not change at run time)."""
    config = Config()
    config.set_main_option("script_location", str(migrations_dir or find_migrations_dir()))
    return tuple(sorted(ScriptDirectory.from_config(config).get_heads()))


def check_database(engine: Engine) -> CheckResult:
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except Exception as exc:
        return _failed("database", exc)
    return CheckResult(ok=True)


def check_storage(storage: Storage) -> CheckResult:
    try:
        storage.check_ready()
    except Exception as exc:
        return _failed("storage", exc)
    return CheckResult(ok=True, details={"backend": getattr(storage, "name", type(storage).__name__)})


def check_migrations(engine: Engine, migrations_dir: Path | None = None) -> CheckResult:
    """At head when the database's alembic revisions equal the scripts' heads (behind or ahead: not ready)."""
    try:
        head = list(script_heads(migrations_dir))
        with engine.connect() as connection:
            current = database_revisions(connection)
    except Exception as exc:
        return _failed("migrations", exc)
    details: dict[str, str | list[str] | None] = {"current": current, "head": head}
    if current != head:
        return CheckResult(ok=False, error="database schema is not at the migration head", details=details)
    return CheckResult(ok=True, details=details)


def database_revisions(connection: Connection) -> list[str]:
    """The revisions recorded in `alembic_version` (none before the first migration).

    Read directly rather than through Alembic's `MigrationContext`, which logs at INFO each time
    it is created: once per probe would flood the logs.
    """
    if not inspect(connection).has_table(VERSION_TABLE):
        return []
    version_num: ColumnClause[str] = column("version_num")
    return sorted(
        str(value) for value in connection.scalars(select(version_num).select_from(table(VERSION_TABLE)))
    )


def run_readiness_checks(engine: Engine, storage: Storage) -> dict[str, CheckResult]:
    results = {"database": check_database(engine)}
    # Without a database the migration check can only repeat the same failure.
    results["migrations"] = (
        check_migrations(engine)
        if results["database"].ok
        else CheckResult(ok=False, error="database unreachable")
    )
    results["storage"] = check_storage(storage)
    for name, result in results.items():
        READINESS_CHECK.labels(check=name).set(1.0 if result.ok else 0.0)
    return results


def enhancer_details(settings: Settings) -> dict[str, object]:
    """The enhancer chosen by the settings, resolved without importing it (the API has no torch)."""
    choice = settings.enhancer_choice()
    return {"name": choice.name, "classical": choice.classical, "reason": choice.reason}


def log_enhancer_choice(settings: Settings) -> None:
    """One start-up line naming the enhancer jobs will get; a warning when it is the fallback."""
    choice = settings.enhancer_choice()
    extra = {"enhancer": choice.name, "classical": choice.classical, "reason": choice.reason}
    if choice.classical and settings.enhancer == "auto":
        logger.warning("no model configured: jobs fall back to the classical lanczos enhancer", extra=extra)
    else:
        logger.info("enhancer selected", extra=extra)


def _failed(check: str, exc: Exception) -> CheckResult:
    logger.warning(
        "readiness check failed", extra={"check": check, "error": type(exc).__name__}, exc_info=exc
    )
    return CheckResult(ok=False, error=type(exc).__name__)
