"""`video-enhancer stats`: the table and the JSON, read from the configured database."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from factories import add_job, add_user, finished_job
from video_enhancer.cli import main
from video_enhancer.config import get_settings
from video_enhancer.models import JobStatus, utcnow


@pytest.fixture
def configured(database_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("VE_DATABASE_URL", database_url)
    monkeypatch.setenv("VE_ENV", "test")
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def _seed(session: Session) -> None:
    user = add_user(session)
    finished_job(session, user, JobStatus.COMPLETED, 40.0)
    finished_job(session, user, JobStatus.COMPLETED, 20.0)
    finished_job(session, user, JobStatus.FAILED, 5.0)
    add_job(session, user, JobStatus.QUEUED, priority=0, queued_at=utcnow())
    session.commit()


def test_stats_json(configured: None, session: Session, capsys: pytest.CaptureFixture[str]) -> None:
    _seed(session)
    assert main(["stats", "--json"]) == 0
    body = json.loads(capsys.readouterr().out)
    assert body["jobs_by_status"]["COMPLETED"] == 2 and body["jobs_by_status"]["FAILED"] == 1
    assert body["average_processing_seconds"] == pytest.approx(30.0, abs=0.01)
    assert body["error_rate"] == pytest.approx(1 / 3)
    assert [entry["depth"] for entry in body["queue"]] == [1, 0, 0]


def test_stats_table(configured: None, session: Session, capsys: pytest.CaptureFixture[str]) -> None:
    _seed(session)
    assert main(["stats"]) == 0
    out = capsys.readouterr().out
    assert "Jobs by status" in out and "  COMPLETED              2" in out
    assert "Error rate                 33.3% (1 failed of 3 finished)" in out
    assert "Average processing time    30.0 s (2 completed)" in out
    assert "  0 low            1" in out


def test_stats_fails_cleanly_without_a_database(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("VE_DATABASE_URL", f"sqlite:///{tmp_path}/missing-folder/x.db")
    get_settings.cache_clear()
    try:
        assert main(["stats"]) == 1
    finally:
        get_settings.cache_clear()
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err.startswith("error: cannot read statistics")
