"""Registrations are limited per client IP; an email has one normal form at register and login."""

from __future__ import annotations

from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from helpers import DEFAULT_PASSWORD, login_tokens
from video_enhancer.auth.service import prune_expired_credentials
from video_enhancer.config import Settings
from video_enhancer.models import LoginAttempt, User, utcnow


def _register(client: TestClient, email: str, ip: str = "198.51.100.1") -> int:
    other = TestClient(client.app, client=(ip, 50000))
    return other.post("/auth/register", json={"email": email, "password": DEFAULT_PASSWORD}).status_code


def test_registrations_from_one_ip_are_limited_with_retry_after(
    client: TestClient, settings: Settings, session: Session
) -> None:
    settings.register_rate_limit_ip_attempts = 3
    settings.register_rate_limit_window_seconds = 3600
    assert [_register(client, f"user{i}@example.com") for i in range(3)] == [201, 201, 201]

    response = TestClient(client.app, client=("198.51.100.1", 1)).post(
        "/auth/register", json={"email": "one-more@example.com", "password": DEFAULT_PASSWORD}
    )

    assert response.status_code == 429
    assert response.json()["error"]["code"] == "RATE_LIMITED"
    assert 3590 <= int(response.headers["Retry-After"]) <= 3600
    assert session.scalar(select(func.count()).select_from(User)) == 3  # nothing created, no hash made
    session.commit()  # end the read: on SQLite an open transaction holds the write lock
    assert _register(client, "elsewhere@example.com", ip="198.51.100.2") == 201


def test_a_taken_email_counts_against_the_limit_too(client: TestClient, settings: Settings) -> None:
    settings.register_rate_limit_ip_attempts = 2
    assert _register(client, "taken@example.com") == 201
    assert _register(client, "taken@example.com") == 409
    assert _register(client, "new@example.com") == 429


def test_registration_attempts_leave_the_window_and_are_pruned(
    client: TestClient, settings: Settings, session: Session
) -> None:
    settings.register_rate_limit_ip_attempts = 1
    assert _register(client, "first@example.com") == 201
    assert _register(client, "second@example.com") == 429
    # An hour later the attempt has left the window; the login pruning (5 min window) kept it.
    an_hour_ago = utcnow() - timedelta(seconds=settings.register_rate_limit_window_seconds + 1)
    prune_expired_credentials(session, settings, now=utcnow())
    session.commit()
    assert session.scalar(select(func.count()).select_from(LoginAttempt)) == 1
    session.execute(update(LoginAttempt).values(attempted_at=an_hour_ago))
    session.commit()
    assert _register(client, "second@example.com") == 201


def test_an_email_logs_in_with_the_exact_string_it_registered_with(client: TestClient) -> None:
    decomposed = "jose\u0301x@example.com"  # e + combining acute accent
    assert _register(client, decomposed) == 201

    for spelling in (decomposed, "jos\u00e9x@example.com", "JOSE\u0301X@Example.COM"):
        login_tokens(client, spelling)  # asserts a 200
    assert _register(client, "JOS\u00c9X@example.com") == 409


def test_register_and_login_share_one_normal_form() -> None:
    from video_enhancer.users.repository import normalize_email

    assert normalize_email(" Jose\u0301X@Example.COM ") == "jos\u00e9x@example.com"
    assert normalize_email("Not An Address\u0301") == "not an addres\u015b"  # NFC and lower case alone
