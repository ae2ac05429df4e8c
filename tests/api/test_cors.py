"""CORS: browser clients on the origins of `VE_CORS_ORIGINS`, and on no other, may call the API."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from video_enhancer.app import create_app
from video_enhancer.config import Settings

APP_ORIGIN = "https://app.example.com"
PREFLIGHT = {
    "Origin": APP_ORIGIN,
    "Access-Control-Request-Method": "POST",
    "Access-Control-Request-Headers": "authorization, content-type",
}


@pytest.fixture
def cors_client(settings: Settings, engine: Engine) -> Iterator[TestClient]:
    configured = settings.model_copy(update={"cors_origins": [APP_ORIGIN, "http://localhost:3000"]})
    with TestClient(create_app(configured, engine=engine)) as test_client:
        yield test_client


def test_preflight_from_an_allowed_origin(cors_client: TestClient) -> None:
    response = cors_client.options("/videos/upload", headers=PREFLIGHT)
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == APP_ORIGIN
    assert "POST" in response.headers["access-control-allow-methods"]
    allowed_headers = response.headers["access-control-allow-headers"].lower()
    assert "authorization" in allowed_headers and "content-type" in allowed_headers
    assert "access-control-allow-credentials" not in response.headers  # bearer tokens, no cookies


def test_preflight_from_another_origin_is_refused(cors_client: TestClient) -> None:
    response = cors_client.options("/videos/upload", headers={**PREFLIGHT, "Origin": "https://evil.example"})
    assert response.status_code == 400
    assert "access-control-allow-origin" not in response.headers


def test_answers_and_errors_carry_the_headers_a_browser_needs(cors_client: TestClient) -> None:
    response = cors_client.get("/users/me", headers={"Origin": APP_ORIGIN})
    assert response.status_code == 401 and response.json()["error"]["code"] == "NOT_AUTHENTICATED"
    assert response.headers["access-control-allow-origin"] == APP_ORIGIN
    assert "x-request-id" in response.headers["access-control-expose-headers"].lower()


def test_no_origin_is_allowed_by_default(client: TestClient) -> None:
    response = client.options("/videos/upload", headers=PREFLIGHT)
    assert response.status_code == 405
    assert "access-control-allow-origin" not in response.headers
    assert "access-control-allow-origin" not in client.get("/healthz", headers={"Origin": APP_ORIGIN}).headers


def test_origins_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VE_CORS_ORIGINS", "https://a.example, http://localhost:5173/")
    assert Settings().cors_origins == ["https://a.example", "http://localhost:5173"]
    monkeypatch.setenv("VE_CORS_ORIGINS", "a.example/app")
    with pytest.raises(ValueError, match="not an origin"):
        Settings()
