"""The live stream: replay, live delivery, resume with Last-Event-ID on another instance, auth."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from events.conftest import free_port, queued_job_of, read_sse, serving
from helpers import register_user
from video_enhancer.app import create_app
from video_enhancer.config import Settings
from video_enhancer.events.service import append_job_event
from video_enhancer.models import EventType, Job, JobStatus


def _append(factory: sessionmaker[Session], job_id: uuid.UUID, event_type: EventType, **data: object) -> None:
    with factory.begin() as session:
        job = session.get(Job, job_id)
        assert job is not None
        if event_type.ends_job:
            job.status = JobStatus.COMPLETED
        append_job_event(session, event_type, job, **data)


def _user(app: FastAPI) -> tuple[dict[str, str], uuid.UUID]:
    from fastapi.testclient import TestClient

    email = f"stream-{uuid.uuid4().hex[:8]}@example.com"
    with TestClient(app) as client:
        headers = register_user(client, email)
    return headers, queued_job_of(app.state.session_factory, email)


def test_a_job_stream_replays_follows_live_and_ends_after_the_final_event(app: FastAPI) -> None:
    headers, job_id = _user(app)
    factory = app.state.session_factory
    _append(factory, job_id, EventType.JOB_QUEUED, queuePosition=1)
    _append(factory, job_id, EventType.JOB_PROCESSING)

    def finish_later() -> None:
        time.sleep(0.5)
        _append(factory, job_id, EventType.JOB_PROGRESS, progressPercent=50.0)
        _append(factory, job_id, EventType.JOB_COMPLETED, minutesCharged=1)

    with serving(app) as base, httpx.Client(base_url=base, timeout=10) as http:
        with http.stream("GET", f"/jobs/{job_id}/events", headers=headers) as response:
            assert response.status_code == 200
            assert response.headers["content-type"].startswith("text/event-stream")
            threading.Thread(target=finish_later).start()
            messages = read_sse(response, 10)  # returns early: the stream ends after job.completed
    assert [(m["id"], m["event"]) for m in messages] == [
        ("1", "job.queued"),
        ("2", "job.processing"),
        ("3", "job.progress"),
        ("4", "job.completed"),
    ]
    assert '"progressPercent":50.0' in messages[2]["data"]


@pytest.mark.db_backends("postgresql")
def test_resume_on_another_instance_and_after_a_restart_gets_the_rest_exactly_once(
    settings: Settings, engine: Engine
) -> None:
    first, second = create_app(settings, engine=engine), create_app(settings, engine=engine)
    headers, job_id = _user(first)
    factory = first.state.session_factory
    for percent in (10.0, 20.0, 30.0, 40.0):
        _append(factory, job_id, EventType.JOB_PROGRESS, progressPercent=percent)

    with serving(first) as base, httpx.Client(base_url=base, timeout=10) as http:
        with http.stream("GET", f"/jobs/{job_id}/events", headers=headers) as response:
            half = read_sse(response, 2)
    assert [m["id"] for m in half] == ["1", "2"]

    def more_later() -> None:
        time.sleep(0.5)
        _append(factory, job_id, EventType.JOB_PROGRESS, progressPercent=50.0)

    with serving(second) as base, httpx.Client(base_url=base, timeout=10) as http:
        resume = {**headers, "Last-Event-ID": half[-1]["id"]}
        with http.stream("GET", f"/jobs/{job_id}/events", headers=resume) as response:
            threading.Thread(target=more_later).start()
            rest = read_sse(response, 3)  # 3 and 4 from the log, 5 live (woken by NOTIFY)
    assert [m["id"] for m in rest] == ["3", "4", "5"]

    restarted = create_app(settings, engine=engine)
    _append(factory, job_id, EventType.JOB_COMPLETED)
    with serving(restarted) as base, httpx.Client(base_url=base, timeout=10) as http:
        resume = {**headers, "Last-Event-ID": rest[-1]["id"]}
        with http.stream("GET", "/events", headers=resume) as response:
            final = read_sse(response, 1)
    assert [(m["id"], m["event"]) for m in final] == [("6", "job.completed")]


def test_stream_tokens_are_the_only_tokens_accepted_in_the_url(app: FastAPI) -> None:
    headers, job_id = _user(app)
    _append(app.state.session_factory, job_id, EventType.JOB_COMPLETED)
    access_token = headers["Authorization"].removeprefix("Bearer ")
    with serving(app) as base, httpx.Client(base_url=base, timeout=10) as http:
        token = http.post("/events/token", headers=headers).json()["token"]
        with http.stream("GET", f"/jobs/{job_id}/events", params={"token": token}) as response:
            assert response.status_code == 200
            assert [m["event"] for m in read_sse(response, 5)] == ["job.completed"]
        assert http.get(f"/jobs/{job_id}/events", params={"token": access_token}).status_code == 401
        as_bearer = {"Authorization": f"Bearer {token}"}
        assert http.get(f"/jobs/{job_id}/events", headers=as_bearer).status_code == 401
        assert http.get("/events").status_code == 401
        assert http.post("/events/token").status_code == 401


def test_another_users_job_stream_is_404(app: FastAPI) -> None:
    _owner_headers, job_id = _user(app)
    other_headers, _ = _user(app)
    with serving(app) as base, httpx.Client(base_url=base, timeout=10) as http:
        response = http.get(f"/jobs/{job_id}/events", headers=other_headers)
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "NOT_FOUND"


def test_sigterm_ends_open_streams_and_the_server_exits(settings: Settings, tmp_path: Path) -> None:
    """The production path: `video-enhancer serve` in its own process, stopped by SIGTERM."""
    port = free_port()
    env = {
        **os.environ,
        "VE_ENV": "development",
        "VE_DATABASE_URL": settings.database_url,
        "VE_STORAGE_ROOT": str(tmp_path / "storage"),
        "VE_BCRYPT_ROUNDS": "4",
    }
    server = subprocess.Popen(
        [sys.executable, "-m", "video_enhancer.cli", "serve", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline and server.poll() is None, "the API did not start"
            time.sleep(0.2)
        with httpx.Client(base_url=base, timeout=30) as http:
            email = f"sigterm-{uuid.uuid4().hex[:8]}@example.com"
            password = "correct horse battery staple"
            assert http.post("/auth/register", json={"email": email, "password": password}).status_code == 201
            login = http.post("/auth/login", json={"email": email, "password": password}).json()
            token = login["accessToken"]
            with http.stream("GET", "/events", headers={"Authorization": f"Bearer {token}"}) as response:
                assert response.status_code == 200
                server.send_signal(signal.SIGTERM)
                started = time.monotonic()
                for _ in response.iter_lines():
                    pass
            assert time.monotonic() - started < 10, "the stream outlived the shutdown"
        # uvicorn re-raises the signal once it has shut down cleanly
        assert server.wait(timeout=15) in (0, -signal.SIGTERM)
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()
