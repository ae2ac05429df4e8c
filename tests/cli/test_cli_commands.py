"""The `video-enhancer` command line: every command and flag of the old single module still
parses, the console script runs, and commands open the database through one helper."""

from __future__ import annotations

import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from video_enhancer.cli import build_parser, cloud, enhance, server, stats, users
from video_enhancer.cli.database import database_session
from video_enhancer.config import Settings
from video_enhancer.models import Plan, User

COMMAND_LINES: list[tuple[list[str], object]] = [
    (["serve", "--host", "0.0.0.0", "--port", "9000"], server.serve_command),
    (["run", "--port", "9001"], server.run_command),
    (["worker", "--concurrency", "2"], server.worker_command),
    (["migrate"], server.migrate_command),
    (["users", "set-plan", "a@example.com", "pro"], users._handler),
    (["stats", "--json"], stats._handler),
    (["enhance", "in.mp4", "-o", "out.mp4", "--model", "stream-diffvsr", "--dtype", "float32"], None),
    (["cloud-setup"], cloud.cloud_setup_command),
]


@pytest.mark.parametrize(
    ("argv", "handler"), COMMAND_LINES, ids=lambda v: v[0] if isinstance(v, list) else ""
)
def test_every_command_parses_to_its_handler(argv: list[str], handler: object) -> None:
    args = build_parser().parse_args(argv)
    assert args.handler is (handler or enhance.enhance_command)


def test_flags_keep_their_meaning() -> None:
    parser = build_parser()
    assert (parser.parse_args(["serve"]).host, parser.parse_args(["serve"]).port) == ("127.0.0.1", 8000)
    assert parser.parse_args(["worker"]).concurrency is None
    assert parser.parse_args(["users", "set-plan", "a@example.com", "creator"]).plan == "CREATOR"
    assert parser.parse_args(["stats"]).json is False


@pytest.mark.parametrize(
    "argv", [["users", "set-plan", "a@example.com", "GOLD"], ["enhance", "x", "-o", "y", "--dtype", "int8"]]
)
def test_bad_choices_are_refused_by_the_parser(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        build_parser().parse_args(argv)
    assert exited.value.code == 2
    assert "invalid choice" in capsys.readouterr().err


def test_the_module_runs_as_the_console_script_does() -> None:
    # `run` starts its worker with `python -m video_enhancer.cli worker`.
    done = subprocess.run(
        [sys.executable, "-m", "video_enhancer.cli", "--help"], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    for command in ("serve", "run", "worker", "migrate", "users", "stats", "enhance", "cloud-setup"):
        assert command in done.stdout


def test_console_script_entry_point_is_unchanged() -> None:
    pyproject = Path(__file__).parents[2] / "pyproject.toml"
    assert 'video-enhancer = "video_enhancer.cli:main"' in pyproject.read_text()


def test_cloud_setup_with_nothing_to_set_up_says_so(
    settings: Settings, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(cloud, "get_settings", lambda: settings)
    assert cloud.cloud_setup_command(build_parser().parse_args(["cloud-setup"])) == 1
    assert "nothing to set up" in capsys.readouterr().err


def _user(email: str) -> User:
    return User(id=uuid.uuid4(), email=email, password_hash="x", plan=Plan.FREE)


def test_database_session_commits_a_block_that_succeeds(settings: Settings, session: Session) -> None:
    with database_session(settings) as cli_session:
        cli_session.add(_user("kept@example.com"))
    assert session.scalar(select(User.email).where(User.email == "kept@example.com")) == "kept@example.com"


def test_database_session_rolls_back_a_block_that_raises(settings: Settings, session: Session) -> None:
    with pytest.raises(RuntimeError), database_session(settings) as cli_session:
        cli_session.add(_user("dropped@example.com"))
        cli_session.flush()
        raise RuntimeError("stop")
    assert session.scalar(select(User).where(User.email == "dropped@example.com")) is None
