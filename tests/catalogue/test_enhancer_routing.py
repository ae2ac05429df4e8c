"""Per-job enhancer and output height, the plan check, and workers that claim only what they run."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from factories import bearer, make_job, make_user
from video_enhancer.catalogue import repository
from video_enhancer.config import Settings
from video_enhancer.jobs.lifecycle import claim_next_job, enqueue_job
from video_enhancer.models import Job, Plan, User, utcnow
from video_helpers import new_user, request_upload, ticket


def test_upload_takes_an_enhancer_and_output_height_and_shows_them_resolved(client: TestClient) -> None:
    headers = new_user(client, Plan.CREATOR)
    body = ticket(client, headers, enhancer="realesr-general-x4v3", outputHeight=480)
    assert (body["enhancer"], body["outputHeight"]) == ("realesr-general-x4v3", 480)
    job = client.get(f"/jobs/{body['jobId']}", headers=headers).json()
    assert (job["enhancer"], job["outputHeight"], job["waitingFor"]) == ("realesr-general-x4v3", 480, None)


def test_without_options_the_job_gets_the_default_enhancer_and_the_plan_maximum(client: TestClient) -> None:
    body = ticket(client, new_user(client, Plan.FREE))
    assert (body["enhancer"], body["outputHeight"]) == ("lanczos", 720)


@pytest.mark.parametrize(
    ("overrides", "named"),
    [
        ({"enhancer": "realesrgan-x4plus"}, "the CREATOR plan may"),
        ({"enhancer": "stream-diffvsr"}, "the PRO plan may"),
        ({"outputHeight": 1080}, "the CREATOR plan allows it"),
        ({"outputHeight": 2160}, "no plan allows it"),
    ],
)
def test_asking_beyond_the_plan_is_plan_limit_naming_the_plan_that_may(
    client: TestClient, overrides: dict[str, Any], named: str
) -> None:
    headers = new_user(client, Plan.FREE)
    response = request_upload(client, headers, **overrides)
    assert response.status_code == 403, response.text
    error = response.json()["error"]
    assert error["code"] == "PLAN_LIMIT" and named in error["message"]
    assert client.get("/videos", headers=headers).json()["total"] == 0
    assert request_upload(client, headers).status_code == 201  # the FREE video was not used up


@pytest.mark.parametrize(
    "overrides", [{"enhancer": "bicubic"}, {"outputHeight": 100}, {"output_height": 480}]
)
def test_malformed_options_are_422(client: TestClient, overrides: dict[str, Any]) -> None:
    assert request_upload(client, new_user(client, Plan.PRO), **overrides).status_code == 422


def _queued_job(session: Session, settings: Settings, enhancer: str, user: User | None = None) -> Job:
    job = make_job(session, user or make_user(session))
    job.enhancer = enhancer
    enqueue_job(session, job, settings)
    session.commit()
    return job


def test_a_queued_job_says_it_waits_for_its_enhancer_until_a_worker_offers_it(
    client: TestClient, session_factory: sessionmaker[Session], settings: Settings
) -> None:
    with session_factory() as session:
        job = _queued_job(session, settings, "realesrgan-x4plus")
        user = session.get(User, job.user_id)
        assert user is not None
        headers = bearer(user, settings)
    assert client.get(f"/jobs/{job.id}", headers=headers).json()["waitingFor"] == "enhancer"
    with session_factory.begin() as session:
        repository.report_loaded(session, "gpu-1", "realesrgan-x4plus", "cuda:0", utcnow())
    assert client.get(f"/jobs/{job.id}", headers=headers).json()["waitingFor"] is None


def test_a_worker_with_listed_enhancers_claims_only_jobs_asking_for_them(
    session_factory: sessionmaker[Session], settings: Settings
) -> None:
    with session_factory() as session:
        first = _queued_job(session, settings, "lanczos")
        second = _queued_job(session, settings, "realesr-general-x4v3")
    assert claim_next_job(session_factory, "gpu", 60, enhancers=["stream-diffvsr"]) is None
    claimed = claim_next_job(session_factory, "gpu", 60, enhancers=["realesr-general-x4v3"])
    assert claimed is not None and claimed.job_id == second.id
    assert claimed.enhancer == "realesr-general-x4v3"
    anything = claim_next_job(session_factory, "cpu", 60)  # VE_ENHANCERS=auto: today's behaviour
    assert anything is not None and anything.job_id == first.id


def test_ve_enhancers_names_what_a_worker_loads(monkeypatch: pytest.MonkeyPatch) -> None:
    assert Settings().worker_enhancers() == ["lanczos"] and Settings().claims_any_enhancer
    monkeypatch.setenv("VE_ENHANCERS", "stream-diffvsr, realesrgan-x4plus")
    settings = Settings()
    assert settings.worker_enhancers() == ["stream-diffvsr", "realesrgan-x4plus"]
    assert not settings.claims_any_enhancer
    monkeypatch.setenv("VE_ENHANCERS", "waifu2x")
    with pytest.raises(ValueError, match="enhancers"):
        Settings()


def test_the_wait_for_an_unoffered_enhancer_is_a_metric_for_the_alert(
    client: TestClient, session_factory: sessionmaker[Session], settings: Settings
) -> None:
    from datetime import timedelta

    from video_enhancer.observability.enhancer_wait import enhancer_waits

    with session_factory() as session:
        job = _queued_job(session, settings, "realesrgan-x4plus")
        job.queued_at = utcnow() - timedelta(minutes=15)
        session.commit()
        waits = enhancer_waits(session, settings, utcnow())
    assert 899 < waits["realesrgan-x4plus"] < 1000 and waits["lanczos"] == 0.0
    metrics = client.get("/metrics").text
    assert 've_queue_enhancer_wait_seconds{enhancer="realesrgan-x4plus"}' in metrics
    assert f"ve_enhancer_wait_alert_seconds {float(settings.enhancer_wait_alert_seconds)}" in metrics
    with session_factory.begin() as session:
        repository.report_loaded(session, "gpu-1", "realesrgan-x4plus", "cuda:0", utcnow())
    with session_factory() as session:
        assert enhancer_waits(session, settings, utcnow())["realesrgan-x4plus"] == 0.0
