"""No password or token ever reaches a log line."""

from __future__ import annotations

import logging

import pytest
from fastapi.testclient import TestClient

from helpers import auth_headers
from video_enhancer.app import create_app
from video_enhancer.config import Settings

PASSWORD = "a very distinctive passphrase 1234"


def test_auth_flow_logs_no_password_or_token(
    settings: Settings, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    caplog.set_level(logging.DEBUG)
    settings.log_level = "DEBUG"
    sensitive: list[str] = [PASSWORD]
    with TestClient(create_app(settings)) as client:  # logging configured inside the captured test
        client.post("/auth/register", json={"email": "log@example.com", "password": PASSWORD})
        client.post("/auth/login", json={"email": "log@example.com", "password": "wrong " + PASSWORD})
        tokens = client.post("/auth/login", json={"email": "log@example.com", "password": PASSWORD}).json()
        sensitive += [tokens["accessToken"], tokens["refreshToken"]]
        rotated = client.post("/auth/refresh", json={"refreshToken": tokens["refreshToken"]}).json()
        sensitive += [rotated["accessToken"], rotated["refreshToken"]]
        client.post("/auth/refresh", json={"refreshToken": tokens["refreshToken"]})  # reuse: logged warning
        client.get("/users/me", headers=auth_headers(rotated["accessToken"]))
        client.post("/auth/logout", json={"refreshToken": rotated["refreshToken"]})

    logged = caplog.text + capsys.readouterr().out
    assert "login succeeded" in logged and "refresh token reused" in logged  # the capture works
    for secret in sensitive:
        assert secret not in logged
