"""Access tokens: only HS256 tokens signed with our secret, unexpired, with every claim, pass."""

from __future__ import annotations

import base64
import json
import time
import uuid
from datetime import timedelta
from typing import Any

import jwt
import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from helpers import get_user, register_user
from video_enhancer.auth.tokens import (
    VerifiedTokens,
    create_access_token,
    create_stream_token,
    decode_access_token,
    decode_stream_token,
    verified_tokens,
)
from video_enhancer.config import Settings
from video_enhancer.errors import InvalidToken
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


# --- verified tokens are kept until they expire ------------------------------------------------


def test_a_verified_token_is_kept_and_still_refused_once_it_expires(settings: Settings) -> None:
    user_id = uuid.uuid4()
    now = utcnow()
    token = jwt.encode(
        _claims(user_id, iat=now - timedelta(minutes=59), exp=now + timedelta(seconds=1)),
        settings.jwt_secret.get_secret_value(),
        algorithm="HS256",
    )
    verified_tokens.clear()

    assert decode_access_token(token, settings) == user_id
    assert decode_access_token(token, settings) == user_id  # from the cache
    assert len(verified_tokens) == 1
    time.sleep(1.1)

    with pytest.raises(InvalidToken):
        decode_access_token(token, settings)
    assert len(verified_tokens) == 0


def test_a_token_verified_under_one_secret_is_refused_under_another(settings: Settings) -> None:
    token = create_access_token(uuid.uuid4(), settings)
    decode_access_token(token, settings)
    rotated = settings.model_copy(update={"jwt_secret": SecretStr("another-secret-" + "x" * 32)})

    with pytest.raises(InvalidToken):
        decode_access_token(token, rotated)


def test_a_stream_token_is_never_taken_for_an_access_token_even_once_verified(settings: Settings) -> None:
    token = create_stream_token(uuid.uuid4(), settings)
    decode_stream_token(token, settings)

    with pytest.raises(InvalidToken):
        decode_access_token(token, settings)


def test_the_cache_keeps_at_most_its_capacity_dropping_the_least_recently_used() -> None:
    cache = VerifiedTokens(capacity=3)
    expires = time.time() + 60
    ids = [uuid.uuid4() for _ in range(4)]
    for index, user_id in enumerate(ids[:3]):
        cache.put((f"t{index}", "access", b"k"), user_id, expires)
    assert cache.get(("t0", "access", b"k")) == ids[0]  # t1 is now the least recently used

    cache.put(("t3", "access", b"k"), ids[3], expires)

    assert len(cache) == 3
    assert cache.get(("t1", "access", b"k")) is None
    assert [cache.get((f"t{n}", "access", b"k")) for n in (0, 2, 3)] == [ids[0], ids[2], ids[3]]
