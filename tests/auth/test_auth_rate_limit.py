"""Failed logins are limited per email and per client IP, in the database (shared by instances)."""

from __future__ import annotations

from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from helpers import DEFAULT_PASSWORD, register_user
from video_enhancer.config import Settings
from video_enhancer.models import LoginAttempt, utcnow


def _login(client: TestClient, email: str, password: str, ip: str | None = None) -> int:
    # TestClient always reports the client as "testclient"; a second client stands in for another IP.
    target = client if ip is None else TestClient(client.app, client=(ip, 50000))
    return target.post("/auth/login", json={"email": email, "password": password}).status_code


def _fail(client: TestClient, email: str, times: int, ip: str | None = None) -> None:
    for _ in range(times):
        assert _login(client, email, "wrong password", ip) == 401


def test_too_many_failures_for_an_email_answer_429_with_retry_after(
    client: TestClient, settings: Settings
) -> None:
    settings.login_rate_limit_attempts = 3
    settings.login_rate_limit_window_seconds = 300
    register_user(client, "ann@example.com")
    _fail(client, "ann@example.com", 3, ip="10.0.0.1")

    # From another IP, and with the right password: the email itself is locked for now.
    response = TestClient(client.app, client=("10.0.0.2", 1)).post(
        "/auth/login", json={"email": "ann@example.com", "password": DEFAULT_PASSWORD}
    )

    assert response.status_code == 429
    assert response.json()["error"]["code"] == "RATE_LIMITED"
    assert 290 <= int(response.headers["Retry-After"]) <= 300


def test_too_many_failures_from_one_ip_block_that_ip_for_every_email(
    client: TestClient, settings: Settings
) -> None:
    settings.login_rate_limit_ip_attempts = 3
    register_user(client, "bea@example.com")
    for index in range(3):
        assert _login(client, f"guess{index}@example.com", "wrong password", ip="10.0.0.9") == 401

    assert _login(client, "bea@example.com", DEFAULT_PASSWORD, ip="10.0.0.9") == 429
    assert _login(client, "bea@example.com", DEFAULT_PASSWORD, ip="10.0.0.10") == 200


def test_an_ip_shared_by_many_users_allows_more_failures_than_one_email(
    client: TestClient, settings: Settings
) -> None:
    settings.login_rate_limit_attempts = 2
    settings.login_rate_limit_ip_attempts = 5
    register_user(client, "fay@example.com")
    # Strangers behind one carrier NAT address mistype their passwords: each email stays under
    # its own limit, and the shared address is not blocked until its higher limit is reached.
    for index in range(4):
        assert _login(client, f"stranger{index}@example.com", "wrong password", ip="100.64.0.1") == 401
    assert _login(client, "fay@example.com", DEFAULT_PASSWORD, ip="100.64.0.1") == 200
    assert _login(client, "stranger4@example.com", "wrong password", ip="100.64.0.1") == 401

    assert _login(client, "fay@example.com", DEFAULT_PASSWORD, ip="100.64.0.1") == 429
    assert _login(client, "fay@example.com", DEFAULT_PASSWORD, ip="100.64.0.2") == 200


def test_a_successful_login_clears_the_email_failures(client: TestClient, settings: Settings) -> None:
    settings.login_rate_limit_attempts = 3
    register_user(client, "cid@example.com")
    _fail(client, "cid@example.com", 2, ip="10.0.1.1")
    assert _login(client, "cid@example.com", DEFAULT_PASSWORD, ip="10.0.1.2") == 200

    _fail(client, "cid@example.com", 2, ip="10.0.1.3")  # would be 4 in the window without the reset

    assert _login(client, "cid@example.com", DEFAULT_PASSWORD, ip="10.0.1.4") == 200


def test_failures_age_out_of_the_window(client: TestClient, settings: Settings, session: Session) -> None:
    settings.login_rate_limit_attempts = 2
    settings.login_rate_limit_window_seconds = 60
    register_user(client, "dee@example.com")
    _fail(client, "dee@example.com", 2)
    assert _login(client, "dee@example.com", DEFAULT_PASSWORD) == 429

    session.execute(update(LoginAttempt).values(attempted_at=utcnow() - timedelta(seconds=61)))
    session.commit()

    assert _login(client, "dee@example.com", DEFAULT_PASSWORD) == 200


def test_failures_are_stored_without_the_email_address(client: TestClient, session: Session) -> None:
    _fail(client, "secret.person@example.com", 1)

    keys = list(session.scalars(select(LoginAttempt.key)))

    assert len(keys) == 2  # one for the email, one for the IP
    assert not any("secret.person" in key for key in keys)


def test_a_second_app_instance_sees_the_same_failures(client: TestClient, settings: Settings) -> None:
    from video_enhancer.app import create_app

    settings.login_rate_limit_attempts = 2
    register_user(client, "eli@example.com")
    _fail(client, "eli@example.com", 2)

    with TestClient(create_app(settings)) as other_instance:
        response = other_instance.post(
            "/auth/login", json={"email": "eli@example.com", "password": DEFAULT_PASSWORD}
        )

    assert response.status_code == 429


def test_the_failure_table_does_not_grow_without_bound(
    client: TestClient, settings: Settings, session: Session
) -> None:
    settings.login_rate_limit_window_seconds = 60
    _fail(client, "old@example.com", 2)
    session.execute(update(LoginAttempt).values(attempted_at=utcnow() - timedelta(hours=1)))
    session.commit()

    _fail(client, "new@example.com", 1)

    session.expire_all()
    assert session.scalar(select(func.count()).select_from(LoginAttempt)) == 2
