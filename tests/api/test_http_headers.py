"""Headers every response carries, and admin paths that look like any missing path."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from factories import add_user, bearer
from video_enhancer.config import Settings


def test_every_response_says_nosniff(client: TestClient) -> None:
    for response in (
        client.get("/healthz"),
        client.get("/openapi.json"),
        client.get("/no/such/path"),
        client.post("/auth/login", json={}),
    ):
        assert response.headers["x-content-type-options"] == "nosniff", response.url


def test_json_responses_need_no_content_security_policy(client: TestClient) -> None:
    assert "content-security-policy" not in client.get("/healthz").headers


def test_the_docs_page_has_a_policy_and_loads_nothing_from_another_origin(client: TestClient) -> None:
    response = client.get("/docs")

    assert response.status_code == 200
    policy = _directives(response.headers["content-security-policy"])
    assert "https:" not in response.headers["content-security-policy"]
    assert policy["frame-ancestors"] == ["'none'"]
    assert not re.findall(r'(?:src|href)="https?://', response.text)


def _directives(header: str) -> dict[str, list[str]]:
    parts = (directive.split() for directive in header.split(";") if directive.strip())
    return {name: values for name, *values in parts}


def test_admin_paths_answer_anyone_else_like_a_missing_path(
    client: TestClient, session: Session, settings: Settings
) -> None:
    user = add_user(session)
    session.commit()
    headers = bearer(user, settings)
    missing = client.get("/no-such-path", headers=headers)
    assert missing.status_code == 404

    for method, path in [
        ("GET", "/admin/stats"),  # not an admin
        ("GET", "/admin/stats/"),  # no redirect to the real path
        ("POST", "/admin/stats"),  # no 405 telling the path exists
        ("DELETE", "/admin/stats"),
        ("GET", "/admin/unknown"),
        ("GET", "/admin"),
    ]:
        response = client.request(method, path, headers=headers, follow_redirects=False)
        assert (response.status_code, response.json()) == (404, missing.json()), (method, path)
    assert missing.json() == {"error": {"code": "NOT_FOUND", "message": "The resource does not exist."}}
