"""The schema the migrations build is the one the models declare, on SQLite and PostgreSQL."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, inspect

from video_enhancer.models import Base


def test_the_migrated_schema_has_no_difference_from_the_models(engine: Engine) -> None:
    with engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), Base.metadata)

    assert differences == []


def test_the_start_estimate_reads_completed_jobs_by_an_index(engine: Engine) -> None:
    """Every poll of a queued job averages the latest completed jobs (`jobs.outlook`)."""
    indexes = {index["name"]: index["column_names"] for index in inspect(engine).get_indexes("jobs")}

    assert indexes["ix_jobs_status_completed_at"] == ["status", "completed_at"]
