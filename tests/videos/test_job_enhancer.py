"""A job names the enhancer that will run it from the moment it is created, not only once done."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from video_enhancer.config import Settings
from video_helpers import new_user, ticket


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ({}, "lanczos"),  # auto, no weights: the classical fallback, said at once
        ({"model_id": "org/stream-diffvsr"}, "stream-diffvsr"),
        ({"model_id": "org/stream-diffvsr", "enhancer": "lanczos"}, "lanczos"),
    ],
)
def test_a_new_job_names_the_enhancer_the_settings_select(
    client: TestClient, settings: Settings, values: dict[str, str], expected: str
) -> None:
    for name, value in values.items():
        setattr(settings, name, value)
    headers = new_user(client)
    job_id = ticket(client, headers)["jobId"]

    response = client.get(f"/jobs/{job_id}", headers=headers)
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "AWAITING_UPLOAD"
    assert response.json()["enhancer"] == expected
