"""Another user's videos and jobs answer 404 on every route, and never appear in lists."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from video_enhancer.models import Job, JobStatus, Video
from video_helpers import new_user, ticket

ROUTES = [
    ("GET", "/videos/{videoId}"),
    ("POST", "/videos/{videoId}/complete"),
    ("DELETE", "/videos/{videoId}"),
    ("GET", "/jobs/{jobId}"),
    ("POST", "/jobs/{jobId}/cancel"),
]


@pytest.fixture
def owner(client: TestClient) -> dict[str, str]:
    return new_user(client)


@pytest.fixture
def upload(client: TestClient, owner: dict[str, str]) -> dict[str, Any]:
    return ticket(client, owner)


@pytest.mark.parametrize(("method", "path"), ROUTES)
def test_other_users_resources_are_404(
    client: TestClient, session: Session, upload: dict[str, Any], method: str, path: str
) -> None:
    stranger = new_user(client)
    response = client.request(method, path.format(**upload), headers=stranger)
    assert response.status_code == 404
    assert response.json() == {"error": {"code": "NOT_FOUND", "message": response.json()["error"]["message"]}}
    video = session.get(Video, uuid.UUID(upload["videoId"]))
    job = session.get(Job, uuid.UUID(upload["jobId"]))
    assert video is not None and video.deleted_at is None
    assert job is not None and job.status == JobStatus.AWAITING_UPLOAD and not job.cancel_requested
    session.commit()


@pytest.mark.parametrize(("method", "path"), ROUTES)
def test_unknown_ids_are_404_too(client: TestClient, owner: dict[str, str], method: str, path: str) -> None:
    ids = {"videoId": uuid.uuid4(), "jobId": uuid.uuid4()}
    assert client.request(method, path.format(**ids), headers=owner).status_code == 404


def test_lists_show_only_ones_own(client: TestClient, upload: dict[str, Any]) -> None:
    stranger = new_user(client)
    assert client.get("/videos", headers=stranger).json() == {
        "items": [],
        "total": 0,
        "limit": 20,
        "offset": 0,
    }
    assert client.get("/jobs", headers=stranger).json()["total"] == 0


@pytest.mark.parametrize(
    ("method", "path"), [*ROUTES, ("GET", "/videos"), ("GET", "/jobs"), ("POST", "/videos/upload")]
)
def test_every_route_needs_a_token(
    client: TestClient, upload: dict[str, Any], method: str, path: str
) -> None:
    response = client.request(method, path.format(**upload), headers={"Authorization": "Bearer not-a-jwt"})
    assert response.status_code == 401
    assert response.json()["error"]["code"] in {"INVALID_TOKEN", "NOT_AUTHENTICATED"}
