"""Helpers shared by API tests: create users and sign them in through the real endpoints."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from video_enhancer.models import Plan, User

DEFAULT_PASSWORD = "correct horse battery staple"


def login_tokens(client: TestClient, email: str, password: str = DEFAULT_PASSWORD) -> dict[str, Any]:
    response = client.post("/auth/login", json={"email": email, "password": password})
    assert response.status_code == 200, response.text
    tokens: dict[str, Any] = response.json()
    return tokens


def auth_headers(access_token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {access_token}"}


def register_user(
    client: TestClient,
    email: str,
    *,
    plan: Plan | str = Plan.FREE,
    password: str = DEFAULT_PASSWORD,
    admin: bool = False,
) -> dict[str, str]:
    """Register `email`, give it `plan` (and admin rights), log in; returns the Authorization headers."""
    response = client.post("/auth/register", json={"email": email, "password": password})
    assert response.status_code == 201, response.text
    if Plan(plan) is not Plan.FREE or admin:
        update_user(client, email, plan=Plan(plan), is_admin=admin)
    return auth_headers(login_tokens(client, email, password)["accessToken"])


def session_factory_of(client: TestClient) -> sessionmaker[Session]:
    factory: sessionmaker[Session] = client.app.state.session_factory  # type: ignore[attr-defined]
    return factory


def update_user(client: TestClient, email: str, **values: Any) -> None:
    """Set columns of a user directly in the database (plan, videos_created, billing_cycle_start...)."""
    with session_factory_of(client).begin() as session:
        user = session.scalar(select(User).where(User.email == email.lower()))
        assert user is not None, f"no user {email}"
        for name, value in values.items():
            setattr(user, name, value)


def get_user(client: TestClient, email: str) -> User:
    """Read a user in a short transaction of its own (on SQLite an open transaction holds the write
    lock, so a test must not keep one open while it calls the API)."""
    with session_factory_of(client).begin() as session:
        user = session.scalar(select(User).where(User.email == email.lower()))
        assert user is not None, f"no user {email}"
        return user
