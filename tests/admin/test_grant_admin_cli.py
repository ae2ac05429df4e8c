"""`video-enhancer users grant-admin EMAIL` (and `revoke-admin`): the way admin rights are given."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from helpers import get_user, register_user
from video_enhancer.cli import main
from video_enhancer.config import Settings, get_settings


@pytest.fixture
def cli_env(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("VE_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("VE_ENV", "test")
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def test_grant_admin_opens_the_admin_routes(
    client: TestClient, cli_env: None, capsys: pytest.CaptureFixture[str]
) -> None:
    headers = register_user(client, "ops@example.com")
    assert client.get("/admin/stats", headers=headers).status_code == 404

    assert main(["users", "grant-admin", "OPS@Example.com"]) == 0

    assert "ops@example.com: admin rights granted." in capsys.readouterr().out
    assert get_user(client, "ops@example.com").is_admin
    assert client.get("/admin/stats", headers=headers).status_code == 200
    assert main(["users", "revoke-admin", "ops@example.com"]) == 0
    assert client.get("/admin/stats", headers=headers).status_code == 404


def test_grant_admin_to_an_unknown_email_changes_nothing(
    client: TestClient, cli_env: None, capsys: pytest.CaptureFixture[str]
) -> None:
    register_user(client, "someone@example.com")

    assert main(["users", "grant-admin", "nobody@example.com"]) == 1

    assert "No user with email 'nobody@example.com'" in capsys.readouterr().err
    assert not get_user(client, "someone@example.com").is_admin
