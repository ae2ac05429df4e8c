"""One request = one transaction: a failed commit must never reach the client as a success."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, event
from sqlalchemy.orm import Session

from video_enhancer.api.deps import SessionDep
from video_enhancer.api.sessions import RequestSessions


def test_a_commit_failure_is_an_error_response() -> None:
    engine = create_engine("sqlite://")

    @event.listens_for(Session, "before_commit")
    def _fail(_session: Session) -> None:
        raise RuntimeError("commit failed")

    app = FastAPI()
    app.state.request_sessions = RequestSessions.for_engine(engine, 5)

    @app.post("/write")
    def write(session: SessionDep) -> dict[str, bool]:
        return {"written": True}

    try:
        response = TestClient(app, raise_server_exceptions=False).post("/write")
    finally:
        event.remove(Session, "before_commit", _fail)
    assert response.status_code == 500
