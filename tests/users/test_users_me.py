"""GET /users/me: plan, limits and the current cycle's usage, holds included."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from fastapi.testclient import TestClient

from helpers import get_user, register_user, session_factory_of, update_user
from video_enhancer.billing.service import charge_job
from video_enhancer.models import Job, JobStatus, Plan, User, Video, utcnow


def _add_job(client: TestClient, user_id: uuid.UUID, status: JobStatus, minutes_held: int) -> uuid.UUID:
    with session_factory_of(client).begin() as session:
        video = Video(
            user_id=user_id,
            original_filename="clip.mp4",
            content_type="video/mp4",
            size_bytes=1000,
            claimed_duration_seconds=minutes_held * 60.0,
            storage_path=f"users/{user_id}/videos/{uuid.uuid4()}/source",
        )
        session.add(video)
        session.flush()
        job = Job(user_id=user_id, video_id=video.id, status=status, minutes_held=minutes_held)
        session.add(job)
        session.flush()
        return job.id


def _charge(client: TestClient, job_id: uuid.UUID, seconds: float) -> None:
    with session_factory_of(client).begin() as session:
        job = session.get(Job, job_id)
        assert job is not None
        user = session.get(User, job.user_id)
        assert user is not None
        charge_job(session, job, user, seconds)
        job.status = JobStatus.COMPLETED


def _parse(timestamp: str) -> datetime:
    return datetime.fromisoformat(timestamp.replace("Z", "+00:00"))


def test_a_new_free_user_sees_the_free_plan_and_no_usage(client: TestClient) -> None:
    headers = register_user(client, "new@example.com")

    response = client.get("/users/me", headers=headers)

    assert response.status_code == 200
    body = response.json()
    assert body["email"] == "new@example.com"
    assert body["plan"] == "FREE"
    assert body["limits"] == {
        "lifetimeVideos": 1,
        "maxDurationSeconds": 30,
        "minutesPerCycle": None,
        "maxOutputHeight": 720,
        "priority": 0,
        "priorityName": "low",
        "maxUploadBytes": 1024**3,
    }
    usage = body["usage"]
    assert (usage["minutesUsed"], usage["minutesHeld"], usage["minutesRemaining"]) == (0, 0, None)
    assert _parse(usage["cycleEnd"]) - _parse(usage["cycleStart"]) == timedelta(days=30)
    assert abs(_parse(usage["cycleStart"]) - utcnow()) < timedelta(minutes=1)
    assert (body["videosCreated"], body["videosRemaining"]) == (0, 1)


def test_usage_counts_charged_minutes_and_holds_of_active_jobs(client: TestClient) -> None:
    headers = register_user(client, "creator@example.com", plan=Plan.CREATOR)
    user_id = get_user(client, "creator@example.com").id
    finished = _add_job(client, user_id, JobStatus.PROCESSING, minutes_held=3)
    _charge(client, finished, seconds=125.0)  # ceil(125 / 60) = 3 minutes charged, hold released
    _add_job(client, user_id, JobStatus.QUEUED, minutes_held=2)
    _add_job(client, user_id, JobStatus.AWAITING_UPLOAD, minutes_held=1)
    _add_job(client, user_id, JobStatus.CANCELED, minutes_held=5)  # released: not counted
    update_user(client, "creator@example.com", videos_created=4)

    body = client.get("/users/me", headers=headers).json()

    assert body["plan"] == "CREATOR"
    assert body["limits"]["minutesPerCycle"] == 30
    assert body["limits"]["priorityName"] == "normal"
    assert body["usage"]["minutesUsed"] == 3
    assert body["usage"]["minutesHeld"] == 3
    assert body["usage"]["minutesRemaining"] == 30 - 3 - 3
    assert (body["videosCreated"], body["videosRemaining"]) == (4, None)


def test_remaining_minutes_never_go_below_zero(client: TestClient) -> None:
    headers = register_user(client, "busy@example.com", plan=Plan.CREATOR)
    update_user(client, "busy@example.com", minutes_used_this_month=29)
    _add_job(client, get_user(client, "busy@example.com").id, JobStatus.QUEUED, minutes_held=2)

    usage = client.get("/users/me", headers=headers).json()["usage"]

    assert (usage["minutesUsed"], usage["minutesHeld"], usage["minutesRemaining"]) == (29, 2, 0)


def test_the_cycle_rolls_over_30_days_after_it_started(client: TestClient) -> None:
    headers = register_user(client, "pro@example.com", plan=Plan.PRO)
    started = utcnow() - timedelta(days=31)
    update_user(client, "pro@example.com", billing_cycle_start=started, minutes_used_this_month=100)
    _add_job(client, get_user(client, "pro@example.com").id, JobStatus.PROCESSING, minutes_held=4)

    usage = client.get("/users/me", headers=headers).json()["usage"]

    assert _parse(usage["cycleStart"]) == started + timedelta(days=30)
    assert _parse(usage["cycleEnd"]) == started + timedelta(days=60)
    assert usage["minutesUsed"] == 0
    assert usage["minutesHeld"] == 4  # a job in flight keeps its hold across the rollover
    assert usage["minutesRemaining"] == 120 - 4
    stored = get_user(client, "pro@example.com")  # the rollover is saved, not only displayed
    assert (stored.billing_cycle_start, stored.minutes_used_this_month) == (started + timedelta(days=30), 0)


def test_a_cycle_still_running_is_left_alone(client: TestClient) -> None:
    headers = register_user(client, "steady@example.com", plan=Plan.PRO)
    started = utcnow() - timedelta(days=29, hours=23)
    update_user(client, "steady@example.com", billing_cycle_start=started, minutes_used_this_month=7)

    usage = client.get("/users/me", headers=headers).json()["usage"]

    assert _parse(usage["cycleStart"]) == started
    assert usage["minutesUsed"] == 7


def test_the_openapi_document_describes_me_and_its_errors(client: TestClient) -> None:
    document = client.get("/openapi.json").json()
    operation = document["paths"]["/users/me"]["get"]
    schemas = document["components"]["schemas"]

    def schema_of(status: str) -> str:
        return str(operation["responses"][status]["content"]["application/json"]["schema"]["$ref"])

    assert schema_of("200").endswith("/MeResponse")
    assert schema_of("401").endswith("/ErrorResponse")
    required = {"id", "email", "plan", "limits", "usage", "videosCreated", "videosRemaining"}
    assert set(schemas["MeResponse"]["required"]) >= required
    for field in ("minutesUsed", "minutesHeld", "minutesRemaining", "cycleStart", "cycleEnd"):
        assert schemas["UsageOut"]["properties"][field]["description"]
    assert set(document["paths"]["/auth/login"]["post"]["responses"]) >= {"200", "401", "422", "429"}
    assert "Retry-After" in document["paths"]["/auth/login"]["post"]["responses"]["429"]["headers"]
