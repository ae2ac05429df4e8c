"""`video-enhancer users set-plan EMAIL PLAN`."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from helpers import get_user, register_user, update_user
from video_enhancer.cli import main
from video_enhancer.config import Settings, get_settings
from video_enhancer.models import Plan


@pytest.fixture
def cli_env(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Point the CLI (which reads its settings from the environment) at the test database."""
    monkeypatch.setenv("VE_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("VE_ENV", "test")
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def test_set_plan_changes_the_plan_and_keeps_the_cycle_usage(
    client: TestClient, cli_env: None, capsys: pytest.CaptureFixture[str]
) -> None:
    headers = register_user(client, "upgrade@example.com")
    update_user(client, "upgrade@example.com", minutes_used_this_month=5)
    before = get_user(client, "upgrade@example.com")

    exit_code = main(["users", "set-plan", "Upgrade@Example.com", "pro"])  # plan names are case-insensitive

    assert exit_code == 0
    assert "upgrade@example.com: plan FREE -> PRO" in capsys.readouterr().out
    after = get_user(client, "upgrade@example.com")
    assert after.plan is Plan.PRO
    assert (after.minutes_used_this_month, after.billing_cycle_start) == (5, before.billing_cycle_start)
    me = client.get("/users/me", headers=headers).json()
    assert me["plan"] == "PRO"
    assert me["limits"]["minutesPerCycle"] == 120
    assert me["usage"]["minutesRemaining"] == 115


def test_set_plan_for_an_unknown_email_fails_with_exit_code_1(
    client: TestClient, cli_env: None, capsys: pytest.CaptureFixture[str]
) -> None:
    register_user(client, "someone@example.com")

    exit_code = main(["users", "set-plan", "nobody@example.com", "PRO"])

    assert exit_code == 1
    assert "No user with email 'nobody@example.com'" in capsys.readouterr().err
    assert get_user(client, "someone@example.com").plan is Plan.FREE


def test_set_plan_refuses_an_unknown_plan(cli_env: None, capsys: pytest.CaptureFixture[str]) -> None:
    from video_enhancer.cli.users import set_plan_command

    assert set_plan_command("someone@example.com", "GOLD") == 2
    assert "Unknown plan 'GOLD'" in capsys.readouterr().err
    with pytest.raises(SystemExit):  # argparse also refuses it before any database work
        main(["users", "set-plan", "someone@example.com", "GOLD"])
