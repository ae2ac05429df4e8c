"""API fixtures: `app`, `client` (built on the database fixtures of `conftest.py`) and `read_logs`.

Loaded once for the whole suite by `pytest_plugins` in the root `conftest.py`: a test directory
needs no conftest of its own to use them.
"""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from video_enhancer.app import create_app
from video_enhancer.config import Settings
from video_enhancer.logging import JsonFormatter

LogReader = Callable[[], list[dict[str, Any]]]


@pytest.fixture
def app(settings: Settings, engine: Engine) -> FastAPI:
    """The real application on the test database, with the configured (local) storage."""
    return create_app(settings, engine=engine)


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    """A client that runs the app's lifespan; an exception that escapes the app fails the test."""
    with TestClient(app) as test_client:
        yield test_client


@pytest.fixture
def read_logs() -> Iterator[LogReader]:
    """Returns the JSON lines written through the root logger so far in the test, parsed."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.addHandler(handler)
    previous = root.level
    root.setLevel(logging.INFO)
    yield lambda: [json.loads(line) for line in stream.getvalue().splitlines()]
    root.removeHandler(handler)
    root.setLevel(previous)
