"""API fixtures (`app`, `client`) built on the database fixtures of `conftest.py`.

Use from a test directory's conftest with ``from fixtures_api import app, client  # noqa: F401``
(or register the module once as a plugin in the root conftest).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from video_enhancer.app import create_app
from video_enhancer.config import Settings


@pytest.fixture
def app(settings: Settings, engine: Engine) -> FastAPI:
    """The real application on the test database, with the configured (local) storage."""
    return create_app(settings, engine=engine)


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app) as test_client:
        yield test_client
