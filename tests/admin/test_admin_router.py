"""`GET /admin/stats`: admins get the numbers, everybody else a 404 (or 401 without a token)."""

from __future__ import annotations

from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from factories import add_job, add_user, bearer, finished_job
from helpers import register_user
from video_enhancer.app import create_app
from video_enhancer.config import Settings
from video_enhancer.models import JobStatus, utcnow
from video_enhancer.users.admin import has_admin_rights


def test_admin_gets_the_statistics(client: TestClient, session: Session, settings: Settings) -> None:
    admin = add_user(session, is_admin=True)
    finished_job(session, admin, JobStatus.COMPLETED, 90.0)
    finished_job(session, admin, JobStatus.FAILED, 10.0)
    add_job(session, admin, JobStatus.QUEUED, priority=1, queued_at=utcnow() - timedelta(seconds=300))
    session.commit()
    response = client.get("/admin/stats", headers=bearer(admin, settings))
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["jobsByStatus"]["COMPLETED"] == 1 and body["jobsByStatus"]["QUEUED"] == 1
    assert body["errorRate"] == 0.5
    assert abs(body["averageProcessingSeconds"] - 90.0) < 0.01
    creator_queue = next(entry for entry in body["queue"] if entry["priority"] == 1)
    assert creator_queue["depth"] == 1 and 300 <= creator_queue["oldestAgeSeconds"] < 360
    assert body["minutesChargedLast30Days"] == 0


def test_other_users_get_not_found(client: TestClient, session: Session, settings: Settings) -> None:
    user = add_user(session)
    session.commit()
    response = client.get("/admin/stats", headers=bearer(user, settings))
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "NOT_FOUND"


def test_anonymous_requests_are_refused(client: TestClient) -> None:
    assert client.get("/admin/stats").status_code == 401


def test_a_configured_email_alone_grants_nothing(settings: Settings) -> None:
    """`VE_ADMIN_EMAILS=admin@example.com` with no such account yet: whoever registers the
    address first (here in another spelling) must not become an admin."""
    configured = settings.model_copy(update={"admin_emails": ["admin@example.com"]})
    with TestClient(create_app(configured)) as configured_client:
        headers = register_user(configured_client, "Admin@Example.com")
        response = configured_client.get("/admin/stats", headers=headers)
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "NOT_FOUND"


def test_a_configured_email_grants_admin_once_verified(session: Session, settings: Settings) -> None:
    user = add_user(session, email="ops@example.com")
    configured = settings.model_copy(update={"admin_emails": ["OPS@example.com"]})
    assert not has_admin_rights(user, configured)
    user.email_verified_at = utcnow()  # type: ignore[attr-defined]  # set by email verification
    assert has_admin_rights(user, configured)
    assert not has_admin_rights(user, settings)  # verified, but not a configured address


def test_the_route_is_documented_with_its_response_model(client: TestClient) -> None:
    operation = client.get("/openapi.json").json()["paths"]["/admin/stats"]["get"]
    schema_ref = operation["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
    assert schema_ref.endswith("/AdminStatsOut")
    assert {"401", "404"} <= set(operation["responses"])
