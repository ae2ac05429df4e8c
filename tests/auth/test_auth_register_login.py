"""Registration, login, and login not revealing which emails exist."""

from __future__ import annotations

import bcrypt
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from helpers import DEFAULT_PASSWORD, register_user
from video_enhancer.auth.passwords import hash_cost, verify_password
from video_enhancer.config import Settings
from video_enhancer.models import Plan, User


def test_register_creates_a_free_user_with_a_lower_cased_email(
    client: TestClient, session: Session, settings: Settings
) -> None:
    response = client.post(
        "/auth/register", json={"email": "Ann.Smith@Example.COM", "password": DEFAULT_PASSWORD}
    )

    assert response.status_code == 201
    body = response.json()
    assert body["email"] == "ann.smith@example.com"
    assert body["plan"] == "FREE"
    user = session.scalar(select(User).where(User.email == "ann.smith@example.com"))
    assert user is not None and str(user.id) == body["id"]
    assert user.password_hash != DEFAULT_PASSWORD
    assert hash_cost(user.password_hash) == settings.bcrypt_rounds
    assert verify_password(DEFAULT_PASSWORD, user.password_hash)


def test_register_twice_with_the_same_email_in_any_case_is_409(client: TestClient) -> None:
    first = client.post("/auth/register", json={"email": "bob@example.com", "password": DEFAULT_PASSWORD})
    second = client.post("/auth/register", json={"email": "BOB@example.com", "password": "another password"})

    assert first.status_code == 201
    assert second.status_code == 409
    assert second.json() == {
        "error": {"code": "EMAIL_TAKEN", "message": "An account with this email already exists."}
    }


@pytest.mark.parametrize(
    ("email", "password"),
    [
        ("carol@example.com", "seven77"),  # 7 characters: too short
        ("carol@example.com", "x" * 129),  # over 128 characters
        ("not-an-email", DEFAULT_PASSWORD),
        ("carol@example.com", ""),
    ],
)
def test_register_rejects_passwords_outside_the_policy_and_bad_emails(
    client: TestClient, email: str, password: str
) -> None:
    response = client.post("/auth/register", json={"email": email, "password": password})

    assert response.status_code == 422
    assert response.json()["error"]["code"] == "VALIDATION_ERROR"


def _status(client: TestClient, route: str, email: str, password: str) -> int:
    return client.post(f"/auth/{route}", json={"email": email, "password": password}).status_code


def test_passwords_of_8_and_128_characters_are_accepted_and_every_character_counts(
    client: TestClient,
) -> None:
    long_password = "é" * 100 + "a" * 28  # 128 characters, 228 bytes: beyond bcrypt's 72-byte input
    assert _status(client, "register", "d@example.com", "8 chars!") == 201
    assert _status(client, "register", "e@example.com", long_password) == 201

    assert _status(client, "login", "d@example.com", "8 chars!") == 200
    assert _status(client, "login", "e@example.com", long_password) == 200
    almost = long_password[:-1] + "b"  # differs only in the last character
    assert _status(client, "login", "e@example.com", almost) == 401


def test_login_returns_a_bearer_access_token_and_a_refresh_token(
    client: TestClient, settings: Settings
) -> None:
    register_user(client, "frank@example.com")

    response = client.post("/auth/login", json={"email": "FRANK@example.com", "password": DEFAULT_PASSWORD})

    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"accessToken", "tokenType", "expiresIn", "refreshToken"}
    assert body["tokenType"] == "bearer"
    assert body["expiresIn"] == settings.access_token_ttl_seconds == 3600
    me = client.get("/users/me", headers={"Authorization": f"Bearer {body['accessToken']}"})
    assert me.status_code == 200 and me.json()["email"] == "frank@example.com"


def test_unknown_email_and_wrong_password_get_identical_answers(client: TestClient) -> None:
    register_user(client, "grace@example.com")

    wrong_password = client.post("/auth/login", json={"email": "grace@example.com", "password": "wrong"})
    unknown_email = client.post("/auth/login", json={"email": "nobody@example.com", "password": "wrong"})
    malformed_email = client.post("/auth/login", json={"email": "no-at-sign", "password": "wrong"})

    assert wrong_password.status_code == unknown_email.status_code == malformed_email.status_code == 401
    expected = {"error": {"code": "INVALID_CREDENTIALS", "message": "Email or password is incorrect."}}
    assert wrong_password.json() == unknown_email.json() == malformed_email.json() == expected
    assert wrong_password.headers.get("content-length") == unknown_email.headers.get("content-length")


@pytest.mark.parametrize("email", ["nul\x00@example.com", "tab\t@example.com", ""])
def test_login_with_control_characters_in_the_email_is_a_validation_error(
    client: TestClient, email: str
) -> None:
    response = client.post("/auth/login", json={"email": email, "password": "whatever"})

    assert response.status_code == 422
    assert response.json()["error"]["code"] == "VALIDATION_ERROR"


def test_unknown_email_costs_the_same_bcrypt_check_as_a_wrong_password(
    client: TestClient, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The work, not the clock: one bcrypt check at the configured cost either way. The time it
    # takes is measured by benchmarks/login_timing.py (a timing assertion fails on a loaded machine).
    settings.login_rate_limit_attempts = 0  # the repeated failures must not hit the rate limit
    register_user(client, "heidi@example.com")
    costs: list[int] = []
    checkpw = bcrypt.checkpw

    def counted_checkpw(password: bytes, hashed: bytes) -> bool:
        costs.append(hash_cost(hashed.decode("ascii")))
        return checkpw(password, hashed)

    monkeypatch.setattr(bcrypt, "checkpw", counted_checkpw)
    for email in ("heidi@example.com", "nobody@example.com"):
        response = client.post("/auth/login", json={"email": email, "password": "wrong password"})
        assert response.status_code == 401
        assert response.json()["error"]["code"] == "INVALID_CREDENTIALS"
    assert costs == [settings.bcrypt_rounds, settings.bcrypt_rounds]


def test_the_default_bcrypt_cost_is_12(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("VE_BCRYPT_ROUNDS", raising=False)
    assert Settings(_env_file=None).bcrypt_rounds == 12  # type: ignore[call-arg]


def test_a_hash_made_with_the_default_settings_has_cost_12(
    client: TestClient, settings: Settings, session: Session
) -> None:
    settings.bcrypt_rounds = Settings.model_fields["bcrypt_rounds"].default
    response = client.post("/auth/register", json={"email": "ivan@example.com", "password": DEFAULT_PASSWORD})
    assert response.status_code == 201

    user = session.scalar(select(User).where(User.email == "ivan@example.com"))
    assert user is not None
    assert user.password_hash.startswith("$2b$12$")
    assert hash_cost(user.password_hash) == 12
    assert user.plan is Plan.FREE
