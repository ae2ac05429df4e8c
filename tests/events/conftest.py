from __future__ import annotations

import socket
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import uvicorn
from fastapi import FastAPI
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from factories import add_job
from video_enhancer.models import JobStatus, User


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def serving(api: FastAPI) -> Iterator[str]:
    """A real uvicorn server for `app` on a free port, in a thread; yields its base URL."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(api, host="127.0.0.1", port=port, log_config=None, lifespan="on"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline, "the API server did not start"
        time.sleep(0.05)
    try:
        yield base
    finally:
        server.should_exit = True
        thread.join(timeout=20)
        assert not thread.is_alive(), "the API server did not stop"


def read_sse(response: httpx.Response, count: int) -> list[dict[str, str]]:
    """Read `count` messages (dicts of field -> value) from an open text/event-stream response."""
    messages: list[dict[str, str]] = []
    current: dict[str, str] = {}
    for line in response.iter_lines():
        if line == "":
            if current:
                messages.append(current)
                current = {}
                if len(messages) == count:
                    break
            continue
        if line.startswith(":"):
            continue
        field, _, value = line.partition(":")
        current[field] = value.removeprefix(" ")
    return messages


def queued_job_of(factory: sessionmaker[Session], email: str) -> uuid.UUID:
    """A QUEUED job (and its video) of the registered user with `email`."""
    with factory.begin() as session:
        user = session.scalars(select(User).where(User.email == email)).one()
        return add_job(session, user, JobStatus.QUEUED).id
