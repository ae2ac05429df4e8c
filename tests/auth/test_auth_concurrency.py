"""Races: a refresh token is rotated at most once; an email is registered at most once."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from fastapi.testclient import TestClient

from helpers import DEFAULT_PASSWORD, login_tokens, register_user

PARALLEL = 6


def _race(call: Callable[[], int]) -> Counter[int]:
    barrier = threading.Barrier(PARALLEL)

    def synchronized() -> int:
        barrier.wait()
        return call()

    with ThreadPoolExecutor(PARALLEL) as pool:
        return Counter(pool.map(lambda _: synchronized(), range(PARALLEL)))


def test_a_refresh_token_presented_in_parallel_is_rotated_once(client: TestClient) -> None:
    register_user(client, "race@example.com")
    token = login_tokens(client, "race@example.com")["refreshToken"]

    statuses = _race(lambda: client.post("/auth/refresh", json={"refreshToken": token}).status_code)

    # One winner; every other presentation looks like a replay and is refused.
    assert statuses == Counter({200: 1, 401: PARALLEL - 1})


def test_an_email_registered_in_parallel_gets_one_account(client: TestClient) -> None:
    body = {"email": "twice@example.com", "password": DEFAULT_PASSWORD}

    statuses = _race(lambda: client.post("/auth/register", json=body).status_code)

    assert statuses == Counter({201: 1, 409: PARALLEL - 1})
