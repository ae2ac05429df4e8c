"""Access tokens: only HS256 tokens signed with our secret, unexpired, with every claim, pass."""

from __future__ import annotations

import base64
import json
import uuid
from datetime import timedelta
from typing import Any

import jwt
import pytest
from fastapi.testclient import TestClient

from helpers import get_user, register_user
from video_enhancer.auth.tokens import create_access_token, decode_access_token
from video_enhancer.config import Settings
from video_enhancer.models import utcnow


def _claims(user_id: uuid.UUID, **overrides: Any) -> dict[str, Any]:
    now = utcnow()
    claims: dict[str, Any] = {
        "sub": str(user_id),
        "type": "access",
        "iat": now,
        "exp": now + timedelta(hours=1),
        "jti": uuid.uuid4().hex,
    }
    claims.update(overrides)
    return {key: value for key, value in claims.items() if value is not None}


def _b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data, default=str).encode()).rstrip(b"=").decode()


def _me(client: TestClient, token: str) -> tuple[int, dict[str, Any]]:
    response = client.get("/users/me", headers={"Authorization": f"Bearer {token}"})
    return response.status_code, response.json()


def test_a_token_we_issued_is_accepted(client: TestClient, settings: Settings) -> None:
    register_user(client, "ok@example.com")
    user_id = get_user(client, "ok@example.com").id
    token = create_access_token(user_id, settings)

    assert decode_access_token(token, settings) == user_id
    assert _me(client, token)[0] == 200


@pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")  # HS512 with our HS256 key
@pytest.mark.parametrize(
    "case",
    [
        "alg_none",
        "wrong_secret",
        "expired",
        "missing_exp",
        "refresh_type",
        "garbage",
        "hs512",
        "unknown_user",
    ],
)
def test_tampered_or_foreign_tokens_are_401_invalid_token(
    client: TestClient, settings: Settings, case: str
) -> None:
    register_user(client, "mallory@example.com")
    user_id = get_user(client, "mallory@example.com").id
    secret = settings.jwt_secret.get_secret_value()
    tokens = {
        "alg_none": f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64(_claims(user_id, iat=0, exp=4102444800))}.",
        "wrong_secret": jwt.encode(
            _claims(user_id), "another-secret-of-enough-length-123", algorithm="HS256"
        ),
        "expired": jwt.encode(
            _claims(user_id, exp=utcnow() - timedelta(seconds=5)), secret, algorithm="HS256"
        ),
        "missing_exp": jwt.encode({**_claims(user_id, exp=None)}, secret, algorithm="HS256"),
        "refresh_type": jwt.encode(_claims(user_id, type="refresh"), secret, algorithm="HS256"),
        "garbage": "not.a.jwt",
        "hs512": jwt.encode(_claims(user_id), secret, algorithm="HS512"),
        "unknown_user": jwt.encode(_claims(uuid.uuid4()), secret, algorithm="HS256"),
    }

    status, body = _me(client, tokens[case])

    assert status == 401
    assert body["error"]["code"] == "INVALID_TOKEN"


def test_missing_credentials_are_401_not_authenticated(client: TestClient) -> None:
    response = client.get("/users/me")

    assert response.status_code == 401
    assert response.json()["error"]["code"] == "NOT_AUTHENTICATED"


def test_access_tokens_expire_after_one_hour_by_default(settings: Settings) -> None:
    token = create_access_token(uuid.uuid4(), settings)
    claims = jwt.decode(token, options={"verify_signature": False})

    assert jwt.get_unverified_header(token)["alg"] == "HS256"
    assert claims["exp"] - claims["iat"] == 3600


def test_an_unauthenticated_request_names_the_bearer_scheme(client: TestClient) -> None:
    response = client.get("/users/me")
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == "Bearer"
    assert response.json()["error"]["code"] == "NOT_AUTHENTICATED"
