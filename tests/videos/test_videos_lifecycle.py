"""Reading, listing, completing, expiring and deleting videos."""

from __future__ import annotations

import io
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from video_enhancer.billing.service import usage_for
from video_enhancer.config import Settings
from video_enhancer.models import Job, JobStatus, Plan, UsageEntry, User, Video
from video_enhancer.storage import keys
from video_enhancer.storage.local import LocalStorage
from video_enhancer.videos.service import expire_stale_uploads
from video_helpers import local_path, new_user, put_upload, ticket


def _storage(app: FastAPI) -> LocalStorage:
    storage = app.state.storage
    assert isinstance(storage, LocalStorage)
    return storage


def _video(session: Session, upload: dict[str, Any]) -> Video:
    video = session.get(Video, uuid.UUID(upload["videoId"]))
    assert video is not None
    session.refresh(video)
    session.commit()  # end the read: on SQLite an open transaction holds the write lock
    return video


def _job(session: Session, upload: dict[str, Any]) -> Job:
    job = session.get(Job, uuid.UUID(upload["jobId"]))
    assert job is not None
    session.refresh(job)
    session.commit()
    return job


def _finish(session: Session, app: FastAPI, upload: dict[str, Any], output: bytes) -> Video:
    """What the worker does at the end: store the result and complete the job."""
    video, job = _video(session, upload), _job(session, upload)
    video.output_storage_path = f"users/{video.user_id}/videos/{video.id}/enhanced.mp4"
    _storage(app).put_stream("enhanced", video.output_storage_path, io.BytesIO(output))
    job.status = JobStatus.COMPLETED
    job.minutes_charged, job.minutes_held = 1, 0
    session.add(
        UsageEntry(
            user_id=video.user_id,
            job_id=job.id,
            minutes=1,
            measured_duration_seconds=12.0,
            cycle_start=datetime.now(UTC),
        )
    )
    session.commit()
    return video


def test_get_video_shows_its_jobs_and_no_download_before_output(client: TestClient) -> None:
    headers = new_user(client)
    upload = ticket(client, headers, filename="beach.mp4")
    body = client.get(f"/videos/{upload['videoId']}", headers=headers).json()
    assert body["id"] == upload["videoId"]
    assert body["originalFilename"] == "beach.mp4"
    assert body["status"] == "AWAITING_UPLOAD"
    assert [job["id"] for job in body["jobs"]] == [upload["jobId"]]
    assert body["jobs"][0]["minutesHeld"] == 1
    assert body["downloadUrl"] is None and body["downloadExpiresAt"] is None


def test_get_video_signs_a_download_url_for_60_minutes(
    client: TestClient, app: FastAPI, session: Session, settings: Settings
) -> None:
    headers = new_user(client)
    upload = ticket(client, headers, filename="beach.mp4")
    _finish(session, app, upload, b"enhanced video bytes")
    body = client.get(f"/videos/{upload['videoId']}", headers=headers).json()
    assert body["status"] == "COMPLETED"
    assert settings.download_url_ttl_seconds == 3600
    lifetime = datetime.fromisoformat(body["downloadExpiresAt"]) - datetime.now(UTC)
    assert timedelta(minutes=59) < lifetime <= timedelta(minutes=60)
    download = client.get(local_path(body["downloadUrl"]))
    assert download.status_code == 200
    assert download.content == b"enhanced video bytes"
    assert 'filename="beach-enhanced.mp4"' in download.headers["content-disposition"]


def test_list_videos_newest_first_with_pagination(client: TestClient, session: Session) -> None:
    headers = new_user(client, Plan.PRO)
    ids = [ticket(client, headers, filename=f"v{i}.mp4")["videoId"] for i in range(5)]
    page = client.get("/videos?limit=2&offset=0", headers=headers).json()
    assert page["total"] == 5 and page["limit"] == 2 and page["offset"] == 0
    assert [item["id"] for item in page["items"]] == ids[::-1][:2]
    rest = client.get("/videos?limit=10&offset=2", headers=headers).json()
    assert [item["id"] for item in rest["items"]] == ids[::-1][2:]
    assert client.get("/videos?limit=0", headers=headers).status_code == 422
    assert client.get("/videos?limit=101", headers=headers).status_code == 422


def test_complete_checks_the_object_then_queues_idempotently(
    client: TestClient, app: FastAPI, session: Session
) -> None:
    headers = new_user(client)
    upload = ticket(client, headers, sizeBytes=10)
    url = f"/videos/{upload['videoId']}/complete"
    missing = client.post(url, headers=headers)
    assert missing.status_code == 409
    assert missing.json()["error"]["code"] == "UPLOAD_INCOMPLETE"
    key = _video(session, upload).storage_path
    _storage(app).put_stream("raw", key, io.BytesIO(b"123"))
    wrong = client.post(url, headers=headers)
    assert wrong.status_code == 400
    assert wrong.json()["error"]["code"] == "SIZE_MISMATCH"
    assert _job(session, upload).status == JobStatus.AWAITING_UPLOAD
    _storage(app).put_stream("raw", key, io.BytesIO(b"0123456789"))
    first = client.post(url, headers=headers)
    assert first.status_code == 200 and first.json()["status"] == "QUEUED"
    queued_at = first.json()["queuedAt"]
    again = client.post(url, headers=headers)
    assert again.status_code == 200 and again.json()["queuedAt"] == queued_at
    assert _video(session, upload).uploaded_at is not None


def test_complete_of_a_canceled_upload_is_409(client: TestClient) -> None:
    headers = new_user(client)
    upload = ticket(client, headers)
    assert client.post(f"/jobs/{upload['jobId']}/cancel", headers=headers).status_code == 200
    response = client.post(f"/videos/{upload['videoId']}/complete", headers=headers)
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "INVALID_STATE"


def test_stale_uploads_expire_and_release_their_hold(
    client: TestClient, app: FastAPI, session: Session, settings: Settings
) -> None:
    headers = new_user(client, Plan.CREATOR)
    stale, fresh, done = (ticket(client, headers, durationSeconds=90) for _ in range(3))
    assert put_upload(client, done, b"x" * 1000).status_code == 200
    storage = _storage(app)
    partial_key = _video(session, stale).storage_path
    storage.put_stream("raw", partial_key, io.BytesIO(b"partial"))
    for upload in (stale, done):
        _video(session, upload).upload_expires_at = datetime.now(UTC) - timedelta(minutes=1)
    session.commit()

    expired = expire_stale_uploads(session, settings, datetime.now(UTC), storage)
    session.commit()
    assert expired == 1
    job = _job(session, stale)
    assert (job.status, job.error_code, job.minutes_held) == (JobStatus.CANCELED, "UPLOAD_EXPIRED", 0)
    assert job.completed_at is not None
    assert not storage.exists("raw", partial_key)
    assert _job(session, fresh).status == JobStatus.AWAITING_UPLOAD
    assert _job(session, done).status == JobStatus.QUEUED
    user = session.get(User, _video(session, stale).user_id)
    assert user is not None and usage_for(session, user).minutes_held == 4
    abandoned = storage.begin_write("raw", "users/x/videos/y/source.mp4")
    abandoned.write(b"cut off mid-stream")
    assert expire_stale_uploads(session, settings, datetime.now(UTC), storage) == 0
    assert list((storage.root / ".tmp").iterdir()) != []  # recent: may still be arriving
    later = datetime.now(UTC) + timedelta(seconds=settings.upload_expiry_seconds + 60)
    expire_stale_uploads(session, settings, later, storage)
    session.commit()
    assert list((storage.root / ".tmp").iterdir()) == []
    abandoned.abort()
    late = put_upload(client, stale, b"x" * 1000)
    assert late.status_code == 409


def test_delete_removes_objects_cancels_the_job_and_keeps_the_ledger(
    client: TestClient, app: FastAPI, session: Session
) -> None:
    headers = new_user(client)
    upload = ticket(client, headers)
    assert put_upload(client, upload, b"x" * 1000).status_code == 200
    video = _finish(session, app, upload, b"out")
    storage = _storage(app)
    segment = f"jobs/{upload['jobId']}/seg-00001.mp4"
    storage.put_stream("enhanced", segment, io.BytesIO(b"seg"))
    storage.put_stream("raw", f"jobs/{upload['jobId']}/frames.bin", io.BytesIO(b"frames"))
    job_id = uuid.UUID(upload["jobId"])
    preview = keys.preview_key(video.user_id, video.id, job_id)
    storage.put_stream("enhanced", preview, io.BytesIO(b"preview"))
    checkpoint = keys.segment_key(job_id, 1, ".json")
    storage.put_stream("enhanced", checkpoint, io.BytesIO(b"{}"))

    response = client.delete(f"/videos/{upload['videoId']}", headers=headers)
    assert response.status_code == 204 and response.content == b""
    assert not storage.exists("raw", video.storage_path)
    assert video.output_storage_path is not None
    assert not storage.exists("enhanced", video.output_storage_path)
    assert storage.list_keys("enhanced", f"jobs/{upload['jobId']}/") == []
    assert storage.list_keys("raw", f"jobs/{upload['jobId']}/") == []
    assert not storage.exists("enhanced", preview) and not storage.exists("enhanced", checkpoint)
    assert _video(session, upload).deleted_at is not None
    assert session.scalars(select(UsageEntry).where(UsageEntry.job_id == uuid.UUID(upload["jobId"]))).one()
    session.commit()
    assert client.get(f"/videos/{upload['videoId']}", headers=headers).status_code == 404
    assert client.delete(f"/videos/{upload['videoId']}", headers=headers).status_code == 404
    assert client.get("/videos", headers=headers).json()["total"] == 0


def test_delete_cancels_a_waiting_job_and_flags_a_running_one(client: TestClient, session: Session) -> None:
    headers = new_user(client, Plan.PRO)
    waiting, running = ticket(client, headers), ticket(client, headers)
    assert put_upload(client, waiting, b"x" * 1000).status_code == 200
    _job(session, running).status = JobStatus.PROCESSING
    session.commit()
    for upload in (waiting, running):
        assert client.delete(f"/videos/{upload['videoId']}", headers=headers).status_code == 204
    job = _job(session, waiting)
    assert (job.status, job.minutes_held) == (JobStatus.CANCELED, 0)
    job = _job(session, running)
    assert (job.status, job.cancel_requested) == (JobStatus.PROCESSING, True)


def test_download_of_a_video_with_a_non_ascii_name(
    client: TestClient, app: FastAPI, session: Session
) -> None:
    headers = new_user(client)
    upload = ticket(client, headers, filename="Ferien 🏖 Nizza.mov", contentType="video/quicktime")
    _finish(session, app, upload, b"bytes")
    body = client.get(f"/videos/{upload['videoId']}", headers=headers).json()
    download = client.get(local_path(body["downloadUrl"]))
    assert download.status_code == 200 and download.content == b"bytes"
    disposition = download.headers["content-disposition"]
    assert 'filename="Ferien _ Nizza-enhanced.mp4"' in disposition
    assert "filename*=UTF-8''Ferien%20%F0%9F%8F%96%20Nizza-enhanced.mp4" in disposition
