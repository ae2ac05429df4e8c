"""One request = one transaction: a failed commit must never reach the client as a success."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, event
from sqlalchemy.orm import Session

from video_enhancer.api.deps import SessionDep
from video_enhancer.db import make_session_factory


def test_a_commit_failure_is_an_error_response() -> None:
    engine = create_engine("sqlite://")

    @event.listens_for(Session, "before_commit")
    def _fail(_session: Session) -> None:
        raise RuntimeError("commit failed")

    app = FastAPI()
    app.state.session_factory = make_session_factory(engine)

    @app.get("/write")
    def write(session: SessionDep) -> dict[str, bool]:
        return {"written": True}

    try:
        response = TestClient(app, raise_server_exceptions=False).get("/write")
    finally:
        event.remove(Session, "before_commit", _fail)
    assert response.status_code == 500
