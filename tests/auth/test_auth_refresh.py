"""Refresh-token rotation, reuse detection and logout."""

from __future__ import annotations

import hashlib
from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from helpers import auth_headers, login_tokens, register_user
from video_enhancer.auth.service import prune_expired_credentials
from video_enhancer.config import Settings
from video_enhancer.models import LoginAttempt, RefreshToken, utcnow


def _refresh(client: TestClient, token: str) -> tuple[int, dict[str, object]]:
    response = client.post("/auth/refresh", json={"refreshToken": token})
    return response.status_code, response.json()


def _assert_invalid_token(status: int, body: dict[str, object]) -> None:
    assert status == 401
    assert body == {"error": {"code": "INVALID_TOKEN", "message": "The token is invalid or expired."}}


def test_refresh_rotates_the_token_and_returns_a_working_access_token(client: TestClient) -> None:
    register_user(client, "amy@example.com")
    first = login_tokens(client, "amy@example.com")

    status, second = _refresh(client, first["refreshToken"])

    assert status == 200
    assert second["tokenType"] == "bearer"
    assert second["refreshToken"] != first["refreshToken"]
    assert client.get("/users/me", headers=auth_headers(str(second["accessToken"]))).status_code == 200
    assert _refresh(client, str(second["refreshToken"]))[0] == 200


def test_only_a_hash_of_the_refresh_token_is_stored(client: TestClient, session: Session) -> None:
    register_user(client, "ben@example.com")
    token = login_tokens(client, "ben@example.com")["refreshToken"]

    hashes = list(session.scalars(select(RefreshToken.token_hash)))

    assert token not in hashes
    assert hashlib.sha256(token.encode()).hexdigest() in hashes


def test_reusing_a_rotated_token_revokes_the_whole_family(client: TestClient, session: Session) -> None:
    register_user(client, "cat@example.com")
    original = login_tokens(client, "cat@example.com")["refreshToken"]
    _, rotated = _refresh(client, original)

    _assert_invalid_token(*_refresh(client, original))  # replayed: looks stolen

    # The legitimate successor dies with the family, so a thief cannot keep a session alive.
    _assert_invalid_token(*_refresh(client, str(rotated["refreshToken"])))
    tokens = list(session.scalars(select(RefreshToken)))
    revoked_families = {token.family_id for token in tokens if token.revoked_at is not None}
    assert len(revoked_families) == 1
    family = [token for token in tokens if token.family_id in revoked_families]
    assert len(family) == 2 and all(token.revoked_at is not None for token in family)
    # register_user's own login is another family and stays usable.
    assert any(token.revoked_at is None for token in tokens)


def test_reuse_does_not_touch_other_logins_of_the_same_user(client: TestClient) -> None:
    register_user(client, "dan@example.com")
    phone = login_tokens(client, "dan@example.com")["refreshToken"]
    tablet = login_tokens(client, "dan@example.com")["refreshToken"]
    _refresh(client, phone)

    _assert_invalid_token(*_refresh(client, phone))

    status, _ = _refresh(client, tablet)
    assert status == 200


def test_logout_revokes_the_family(client: TestClient) -> None:
    register_user(client, "eve@example.com")
    original = login_tokens(client, "eve@example.com")["refreshToken"]
    _, rotated = _refresh(client, original)

    response = client.post("/auth/logout", json={"refreshToken": rotated["refreshToken"]})

    assert response.status_code == 204
    assert response.content == b""
    _assert_invalid_token(*_refresh(client, str(rotated["refreshToken"])))


def test_logout_with_an_unknown_token_is_accepted_and_changes_nothing(client: TestClient) -> None:
    register_user(client, "fay@example.com")
    token = login_tokens(client, "fay@example.com")["refreshToken"]

    assert client.post("/auth/logout", json={"refreshToken": "not-a-token"}).status_code == 204

    status, _ = _refresh(client, token)
    assert status == 200


def test_an_expired_refresh_token_is_refused(client: TestClient, session: Session) -> None:
    register_user(client, "gus@example.com")
    token = login_tokens(client, "gus@example.com")["refreshToken"]
    session.execute(update(RefreshToken).values(expires_at=utcnow() - timedelta(seconds=1)))
    session.commit()

    _assert_invalid_token(*_refresh(client, token))


def test_unknown_and_malformed_refresh_tokens_are_refused(client: TestClient) -> None:
    _assert_invalid_token(*_refresh(client, "garbage"))
    response = client.post("/auth/refresh", json={})
    assert response.status_code == 422


def test_pruning_drops_expired_tokens_and_old_login_failures(
    client: TestClient, session: Session, settings: Settings
) -> None:
    register_user(client, "hal@example.com")
    live = login_tokens(client, "hal@example.com")["refreshToken"]
    client.post("/auth/login", json={"email": "hal@example.com", "password": "wrong"})
    session.execute(
        update(RefreshToken)
        .where(RefreshToken.token_hash != hashlib.sha256(live.encode()).hexdigest())
        .values(expires_at=utcnow() - timedelta(seconds=1))
    )
    session.execute(update(LoginAttempt).values(attempted_at=utcnow() - timedelta(days=1)))
    session.commit()

    deleted = prune_expired_credentials(session, settings)
    session.commit()

    assert deleted == 1  # register_user's login; the live token stays
    assert session.scalar(select(func.count()).select_from(LoginAttempt)) == 0
    session.rollback()  # release SQLite's write lock before calling the API
    assert _refresh(client, live)[0] == 200
