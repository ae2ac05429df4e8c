"""`Idempotency-Key` on POST /videos/upload and POST /videos/{id}/complete (Stripe's semantics)."""

from __future__ import annotations

import io
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

import httpx
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from helpers import session_factory_of
from video_enhancer.models import IdempotencyKey, Job, Plan, User, Video, utcnow
from video_enhancer.storage.local import LocalStorage
from video_enhancer.videos.idempotency import prune_expired_keys
from video_helpers import new_user, request_upload


def _upload(client: TestClient, headers: dict[str, str], key: str, **body: Any) -> httpx.Response:
    return request_upload(client, {**headers, "Idempotency-Key": key}, **body)


def _count(session: Session, model: type[Job] | type[Video], user_id: uuid.UUID) -> int:
    count = session.scalar(select(func.count()).select_from(model).where(model.user_id == user_id))
    session.commit()  # end the read: on SQLite an open transaction holds the write lock
    return int(count or 0)


def _user_id(client: TestClient, headers: dict[str, str]) -> uuid.UUID:
    return uuid.UUID(client.get("/users/me", headers=headers).json()["id"])


def test_a_retried_upload_request_returns_the_first_ticket(client: TestClient, session: Session) -> None:
    headers = new_user(client)  # FREE: one video, so a second real request would be refused
    first = _upload(client, headers, "phone-retry-1")
    again = _upload(client, headers, "phone-retry-1")
    assert first.status_code == again.status_code == 201, again.text
    assert again.json() == first.json()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first.headers
    user_id = _user_id(client, headers)
    assert _count(session, Video, user_id) == 1 and _count(session, Job, user_id) == 1
    held = session.scalar(select(func.sum(Job.minutes_held)).where(Job.user_id == user_id))
    session.commit()
    assert held == 1
    with session_factory_of(client).begin() as read:
        user = read.get(User, user_id)
        assert user is not None and user.videos_created == 1


def test_the_same_key_with_another_body_is_refused(client: TestClient, session: Session) -> None:
    headers = new_user(client, Plan.CREATOR)
    assert _upload(client, headers, "k-1", sizeBytes=1000).status_code == 201
    reused = _upload(client, headers, "k-1", sizeBytes=2000)
    assert reused.status_code == 422
    assert reused.json()["error"]["code"] == "IDEMPOTENCY_KEY_REUSED"
    assert _count(session, Video, _user_id(client, headers)) == 1


def test_keys_belong_to_their_user(client: TestClient) -> None:
    first, second = new_user(client), new_user(client)
    one = _upload(client, first, "shared-key").json()
    other = _upload(client, second, "shared-key").json()
    assert one["videoId"] != other["videoId"]


def test_without_a_key_every_request_is_new(client: TestClient) -> None:
    headers = new_user(client, Plan.CREATOR)
    ids = {request_upload(client, headers).json()["videoId"] for _ in range(2)}
    assert len(ids) == 2


def test_simultaneous_requests_with_one_key_make_one_video(client: TestClient, session: Session) -> None:
    headers = new_user(client, Plan.PRO)  # the plan would allow every one of them
    barrier = threading.Barrier(8)

    def one(_: int) -> httpx.Response:
        barrier.wait()
        return _upload(client, headers, "tap-tap-tap")

    with ThreadPoolExecutor(max_workers=8) as pool:
        responses = list(pool.map(one, range(8)))
    assert [r.status_code for r in responses] == [201] * 8
    assert len({r.json()["videoId"] for r in responses}) == 1
    assert sum(1 for r in responses if "Idempotent-Replayed" not in r.headers) == 1
    user_id = _user_id(client, headers)
    assert _count(session, Video, user_id) == 1 and _count(session, Job, user_id) == 1


def test_a_key_older_than_24_hours_starts_afresh(client: TestClient) -> None:
    headers = new_user(client, Plan.CREATOR)
    first = _upload(client, headers, "old-key").json()
    with session_factory_of(client).begin() as session:
        session.execute(update(IdempotencyKey).values(created_at=utcnow() - timedelta(hours=24, seconds=1)))
    later = _upload(client, headers, "old-key", sizeBytes=4321)
    assert later.status_code == 201 and later.json()["videoId"] != first["videoId"]
    with session_factory_of(client).begin() as session:
        session.execute(update(IdempotencyKey).values(created_at=utcnow() - timedelta(hours=25)))
        assert prune_expired_keys(session) == 1


def test_a_retried_complete_replays_its_first_answer(client: TestClient, app: FastAPI) -> None:
    headers = new_user(client, Plan.CREATOR)
    upload = request_upload(client, headers, sizeBytes=10).json()
    other = request_upload(client, headers, sizeBytes=10).json()
    storage = app.state.storage
    assert isinstance(storage, LocalStorage)
    with session_factory_of(client).begin() as session:
        video = session.get(Video, uuid.UUID(upload["videoId"]))
        assert video is not None
        storage.put_stream("raw", video.storage_path, io.BytesIO(b"0123456789"))
    keyed = {**headers, "Idempotency-Key": "complete-1"}
    first = client.post(f"/videos/{upload['videoId']}/complete", headers=keyed)
    assert first.status_code == 200 and first.json()["status"] == "QUEUED"
    assert client.post(f"/jobs/{upload['jobId']}/cancel", headers=headers).status_code == 200
    replay = client.post(f"/videos/{upload['videoId']}/complete", headers=keyed)
    assert replay.status_code == 200 and replay.json() == first.json()
    fresh = client.post(f"/videos/{upload['videoId']}/complete", headers=headers)
    assert fresh.status_code == 409  # without the key, the canceled job answers for itself
    reused = client.post(f"/videos/{other['videoId']}/complete", headers=keyed)
    assert reused.status_code == 422 and reused.json()["error"]["code"] == "IDEMPOTENCY_KEY_REUSED"


def test_a_malformed_key_is_refused(client: TestClient) -> None:
    headers = new_user(client)
    assert _upload(client, headers, "x" * 256).status_code == 422
    assert _upload(client, headers, "has space").status_code == 422
