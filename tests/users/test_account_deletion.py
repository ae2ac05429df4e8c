"""DELETE /users/me: jobs canceled, files gone, credentials dead, usage kept without a name."""

from __future__ import annotations

import io
import uuid

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from helpers import DEFAULT_PASSWORD, login_tokens, register_user, session_factory_of
from video_enhancer.models import Job, JobStatus, Plan, RefreshToken, UsageEntry, User, Video, utcnow
from video_enhancer.storage.local import LocalStorage
from video_helpers import put_upload, ticket

EMAIL = "leaving@example.com"


def _storage(app: FastAPI) -> LocalStorage:
    storage = app.state.storage
    assert isinstance(storage, LocalStorage)
    return storage


def _account_with_everything(client: TestClient, app: FastAPI) -> tuple[dict[str, str], uuid.UUID]:
    """Authorization headers and the id of a CREATOR account with a finished, a queued, a running and a
    waiting job, their files, segments and a half-done resumable upload."""
    headers = register_user(client, EMAIL, plan=Plan.CREATOR)
    login_tokens(client, EMAIL)  # a second signed-in device
    storage = _storage(app)
    finished, queued, running = (ticket(client, headers, sizeBytes=4) for _ in range(3))
    for upload in (finished, queued, running):
        assert put_upload(client, upload, b"abcd").status_code == 200
    waiting = ticket(client, headers, sizeBytes=100, resumable=True)
    partial = client.put(
        waiting["uploadUrl"].split("testserver")[1],
        content=b"x" * 10,
        headers={"Content-Range": "bytes 0-9/100"},
    )
    assert partial.status_code == 308
    with session_factory_of(client).begin() as session:
        done = session.get(Job, uuid.UUID(finished["jobId"]))
        assert done is not None
        video = session.get(Video, done.video_id)
        assert video is not None
        video.output_storage_path = f"users/{done.user_id}/videos/{video.id}/enhanced-{done.id}.mp4"
        storage.put_stream("enhanced", video.output_storage_path, io.BytesIO(b"enhanced"))
        storage.put_stream("enhanced", f"jobs/{done.id}/segment-0000.mp4", io.BytesIO(b"seg"))
        done.status, done.minutes_held, done.minutes_charged = JobStatus.COMPLETED, 0, 1
        session.add(
            UsageEntry(
                user_id=done.user_id,
                job_id=done.id,
                minutes=1,
                measured_duration_seconds=30.0,
                cycle_start=utcnow(),
            )
        )
        session.execute(
            update(Job).where(Job.id == uuid.UUID(running["jobId"])).values(status=JobStatus.PROCESSING)
        )
        return headers, done.user_id


def _all_files(storage: LocalStorage) -> list[str]:
    return [p.name for p in storage.root.rglob("*") if p.is_file()]


def test_deleting_the_account(client: TestClient, app: FastAPI) -> None:
    bystander = register_user(client, "stays@example.com")
    kept = ticket(client, bystander, sizeBytes=3)
    assert put_upload(client, kept, b"abc").status_code == 200
    headers, user_id = _account_with_everything(client, app)

    assert client.delete("/users/me", headers=headers).status_code == 204

    assert client.get("/users/me", headers=headers).status_code == 401
    login = client.post("/auth/login", json={"email": EMAIL, "password": DEFAULT_PASSWORD})
    assert login.status_code == 401
    # Only the bystander's upload is left in storage.
    assert len(_all_files(_storage(app))) == 1
    with session_factory_of(client).begin() as session:
        user = session.get(User, user_id)
        assert user is not None and user.deleted_at is not None and EMAIL not in user.email
        jobs = {job.status: job for job in session.scalars(select(Job).where(Job.user_id == user_id))}
        assert set(jobs) == {JobStatus.COMPLETED, JobStatus.CANCELED, JobStatus.PROCESSING}
        assert jobs[JobStatus.PROCESSING].cancel_requested  # its worker stops at the next check
        assert sum(job.minutes_held for job in jobs.values() if job.status == JobStatus.CANCELED) == 0
        ledger = session.scalars(select(UsageEntry).where(UsageEntry.user_id == user_id)).all()
        assert [entry.minutes for entry in ledger] == [1]
        videos = session.scalars(select(Video).where(Video.user_id == user_id)).all()
        assert all(v.deleted_at is not None and v.original_filename == "deleted" for v in videos)
        assert session.scalars(select(RefreshToken).where(RefreshToken.user_id == user_id)).all() == []

    again = register_user(client, EMAIL)  # the address is free again: a new, empty account
    me = client.get("/users/me", headers=again).json()
    assert me["id"] != str(user_id)
    assert client.get("/videos", headers=again).json()["total"] == 0
    assert client.get(f"/videos/{kept['videoId']}", headers=bystander).status_code == 200


def test_deleting_needs_a_signed_in_user(client: TestClient) -> None:
    assert client.delete("/users/me").status_code == 401
