"""GET /users/me/usage: minutes charged per UTC day, zeros included, only the caller's own."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from factories import add_job, add_usage, add_user, bearer
from video_enhancer.config import Settings
from video_enhancer.models import JobStatus, utcnow


def test_daily_buckets_sum_the_ledger_per_day(
    client: TestClient, session_factory: sessionmaker[Session], settings: Settings
) -> None:
    today = utcnow().replace(hour=12, minute=0, second=0, microsecond=0)
    with session_factory.begin() as session:
        user, other = add_user(session), add_user(session)
        charges = ((2, today), (3, today), (4, today - timedelta(days=5)), (9, today - timedelta(days=90)))
        for minutes, when in charges:
            add_usage(session, user, add_job(session, user, JobStatus.COMPLETED), minutes, when)
        add_usage(session, other, add_job(session, other, JobStatus.COMPLETED), 7, today)
        headers = bearer(user, settings)

    response = client.get("/users/me/usage", params={"days": 90}, headers=headers)

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["days"] == 90 and len(body["buckets"]) == 90
    assert body["totalMinutes"] == 9  # the 90-day-old charge is outside, the other user's is not ours
    by_day = {bucket["day"]: bucket for bucket in body["buckets"]}
    assert by_day[today.date().isoformat()] == {"day": today.date().isoformat(), "minutes": 5, "jobs": 2}
    assert by_day[(today - timedelta(days=5)).date().isoformat()]["minutes"] == 4
    assert body["buckets"][-1]["day"] == datetime.now(UTC).date().isoformat()
    assert body["buckets"][0]["day"] == (datetime.now(UTC) - timedelta(days=89)).date().isoformat()


def test_days_defaults_to_90_and_is_bounded(
    client: TestClient, session_factory: sessionmaker[Session], settings: Settings
) -> None:
    with session_factory.begin() as session:
        headers = bearer(add_user(session), settings)
    default = client.get("/users/me/usage", headers=headers).json()
    assert default["days"] == 90 and default["totalMinutes"] == 0
    assert {bucket["minutes"] for bucket in default["buckets"]} == {0}
    assert client.get("/users/me/usage?days=0", headers=headers).json()["error"]["code"] == "VALIDATION_ERROR"
    assert client.get("/users/me/usage?days=367", headers=headers).status_code == 422
    assert client.get("/users/me/usage").status_code == 401
