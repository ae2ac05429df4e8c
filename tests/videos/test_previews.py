"""Free before/after previews: requested by the API, made by the worker at the lowest priority."""

from __future__ import annotations

import hashlib
import io
import uuid
from typing import Any

import c2pa
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from PIL import Image
from prometheus_client import REGISTRY
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from media.clips import BLACK_START, PHONE_PORTRAIT, ClipLibrary, ClipSpec
from media.fake_enhancers import BrokenEnhancer
from video_enhancer.config import Settings
from video_enhancer.enhancers.base import Enhancer
from video_enhancer.enhancers.lanczos import LanczosEnhancer
from video_enhancer.models import Job, JobEvent, JobStatus, Plan, UsageEntry, User
from video_enhancer.previews.runner import PreviewRunner
from video_enhancer.previews.service import claim_next_preview
from video_enhancer.storage.base import Storage
from video_helpers import local_path, new_user, put_upload, ticket

Factory = sessionmaker[Session]


def _upload_clip(
    client: TestClient, headers: dict[str, str], clips: ClipLibrary, spec: ClipSpec, **options: Any
) -> dict[str, Any]:
    clip = clips.get(spec)
    content = clip.path.read_bytes()
    size, duration = len(content), clip.duration_s
    upload = ticket(client, headers, sizeBytes=size, durationSeconds=duration, autoStart=False, **options)
    assert put_upload(client, upload, content).status_code in (200, 201, 204)
    return upload


def _run_preview(
    app: FastAPI, factory: Factory, settings: Settings, enhancer: Enhancer | None = None
) -> bool:
    storage: Storage = app.state.storage
    claimed = claim_next_preview(factory, "preview-worker", 60)
    assert claimed is not None
    return PreviewRunner(settings, factory, storage, enhancer or LanczosEnhancer()).run(claimed)


def _preview_settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"encoder_preset": "ultrafast", "preview_seconds": 2.0})


def test_a_preview_is_made_free_and_shown_with_signed_urls(
    client: TestClient, app: FastAPI, session_factory: Factory, settings: Settings, clips: ClipLibrary
) -> None:
    headers = new_user(client, Plan.FREE)
    upload = _upload_clip(client, headers, clips, BLACK_START)
    queued = client.post(f"/videos/{upload['videoId']}/preview", headers=headers)
    assert queued.status_code == 202, queued.text
    assert queued.json()["status"] == "QUEUED" and queued.json()["afterUrl"] is None
    again = client.post(f"/videos/{upload['videoId']}/preview", json={}, headers=headers)
    assert again.status_code == 200 and again.json()["id"] == queued.json()["id"]

    assert _run_preview(app, session_factory, _preview_settings(settings))

    video = client.get(f"/videos/{upload['videoId']}", headers=headers).json()
    [preview] = video["previews"]
    assert preview["status"] == "COMPLETED" and preview["startSeconds"] >= 1.0  # past the black second
    assert preview["quality"]["psnrDb"] > 25
    for name in ("beforeUrl", "afterUrl", "comparisonImageUrl"):
        assert client.get(local_path(preview[name])).status_code == 200
    after = client.get(local_path(preview["afterUrl"])).content
    reader = c2pa.Reader("video/mp4", io.BytesIO(after))
    assert reader.get_validation_state() in ("Valid", "Trusted")
    # Read back before it was shown, and reported like a job's.
    credentials = preview["contentCredentials"]
    assert credentials["validationState"] in ("Valid", "Trusted") and credentials["enhancer"] == "lanczos"
    assert credentials["sourceSha256"] == hashlib.sha256(clips.get(BLACK_START).path.read_bytes()).hexdigest()
    assert credentials["digitalSourceType"].endswith("/algorithmicallyEnhanced")
    assert preview["outputHeight"] == 720 and preview["enhancer"] == "lanczos"
    assert video["status"] == "UPLOADED"  # the job was not started, nothing held or charged
    with session_factory() as session:
        job = session.get(Job, uuid.UUID(upload["jobId"]))
        assert job is not None and job.status == JobStatus.UPLOADED and job.minutes_held == 0
        user = session.get(User, job.user_id)
        assert user is not None and user.videos_created == 0
        assert session.scalar(select(UsageEntry.id).where(UsageEntry.user_id == job.user_id)) is None
        types = list(session.scalars(select(JobEvent.type).where(JobEvent.user_id == job.user_id)))
    assert "preview.completed" in types


def test_a_rotated_phone_clip_preview_is_upright(
    client: TestClient,
    app: FastAPI,
    session_factory: Factory,
    settings: Settings,
    clips: ClipLibrary,
    tmp_path: Any,
) -> None:
    headers = new_user(client, Plan.FREE)
    upload = _upload_clip(client, headers, clips, PHONE_PORTRAIT)
    assert (
        client.post(
            f"/videos/{upload['videoId']}/preview", json={"startSeconds": 1}, headers=headers
        ).status_code
        == 202
    )
    assert _run_preview(app, session_factory, _preview_settings(settings))
    preview = client.get(f"/videos/{upload['videoId']}", headers=headers).json()["previews"][0]
    assert preview["startSeconds"] == 1.0
    still = tmp_path / "compare.jpg"
    still.write_bytes(client.get(local_path(preview["comparisonImageUrl"])).content)
    with Image.open(still) as image:
        assert image.size == (2 * 256, 384)  # 64x96 upright, x4 under FREE's 720 short side


def test_previews_are_limited_per_plan_per_day(client: TestClient, app: FastAPI, session: Session) -> None:
    headers = new_user(client, Plan.FREE)
    upload = ticket(client, headers, sizeBytes=10, autoStart=False)
    assert put_upload(client, upload, b"0123456789").status_code in (200, 201, 204)
    url = f"/videos/{upload['videoId']}/preview"
    for start in (0, 1, 2):
        assert client.post(url, json={"startSeconds": start}, headers=headers).status_code == 202
    refused = client.post(url, json={"startSeconds": 3}, headers=headers)
    assert refused.status_code == 429
    assert refused.json()["error"]["code"] == "PREVIEW_LIMIT_REACHED"
    assert client.post(url, json={"startSeconds": 1}, headers=headers).status_code == 200  # same span


def test_preview_needs_an_uploaded_video_of_ones_own(client: TestClient) -> None:
    headers = new_user(client, Plan.CREATOR)
    upload = ticket(client, headers, autoStart=False)
    early = client.post(f"/videos/{upload['videoId']}/preview", headers=headers)
    assert early.status_code == 409 and early.json()["error"]["code"] == "INVALID_STATE"
    stranger = new_user(client, Plan.CREATOR)
    assert client.post(f"/videos/{upload['videoId']}/preview", headers=stranger).status_code == 404
    bad = client.post(f"/videos/{upload['videoId']}/preview", json={"startSeconds": -1}, headers=headers)
    assert bad.status_code == 422


def test_a_bad_video_fails_the_preview_and_the_worker_goes_on(
    client: TestClient, app: FastAPI, session_factory: Factory, settings: Settings
) -> None:
    headers = new_user(client, Plan.PRO)
    upload = ticket(client, headers, sizeBytes=10, autoStart=False)
    assert put_upload(client, upload, b"0123456789").status_code in (200, 201, 204)
    assert client.post(f"/videos/{upload['videoId']}/preview", headers=headers).status_code == 202
    assert not _run_preview(app, session_factory, _preview_settings(settings))
    preview = client.get(f"/videos/{upload['videoId']}", headers=headers).json()["previews"][0]
    assert preview["status"] == "FAILED" and preview["errorCode"] == "INVALID_VIDEO"
    assert preview["afterUrl"] is None


def test_a_preview_has_the_size_and_enhancer_its_job_asks_for(
    client: TestClient, app: FastAPI, session_factory: Factory, settings: Settings, clips: ClipLibrary
) -> None:
    headers = new_user(client, Plan.CREATOR)
    upload = _upload_clip(
        client, headers, clips, BLACK_START, enhancer="realesr-general-x4v3", outputHeight=144
    )
    queued = client.post(f"/videos/{upload['videoId']}/preview", headers=headers).json()
    assert (queued["enhancer"], queued["outputHeight"]) == ("realesr-general-x4v3", 144)
    assert _run_preview(app, session_factory, _preview_settings(settings))
    preview = client.get(f"/videos/{upload['videoId']}", headers=headers).json()["previews"][0]
    assert preview["enhancer"] == "lanczos"  # the enhancer that made it, told as it is
    with Image.open(io.BytesIO(client.get(local_path(preview["comparisonImageUrl"])).content)) as still:
        assert still.size == (2 * 216, 144)  # 96x64 under the job's 144 px, not the plan's 1080


def test_a_preview_from_a_broken_model_is_rejected_not_shown(
    client: TestClient, app: FastAPI, session_factory: Factory, settings: Settings, clips: ClipLibrary
) -> None:
    headers = new_user(client, Plan.FREE)
    upload = _upload_clip(client, headers, clips, BLACK_START)
    assert client.post(f"/videos/{upload['videoId']}/preview", headers=headers).status_code == 202
    rejected_before = _rejected()
    assert not _run_preview(app, session_factory, _preview_settings(settings), BrokenEnhancer("noise"))
    preview = client.get(f"/videos/{upload['videoId']}", headers=headers).json()["previews"][0]
    assert preview["status"] == "FAILED" and preview["errorCode"] == "OUTPUT_REJECTED"
    assert preview["afterUrl"] is None and preview["contentCredentials"] is None
    assert _rejected() == rejected_before + 1


def _rejected() -> float:
    return REGISTRY.get_sample_value("ve_outputs_rejected_total", {"enhancer": "broken"}) or 0.0


def test_without_signing_a_preview_reports_no_credentials(
    client: TestClient, app: FastAPI, session_factory: Factory, settings: Settings, clips: ClipLibrary
) -> None:
    headers = new_user(client, Plan.FREE)
    upload = _upload_clip(client, headers, clips, BLACK_START)
    assert client.post(f"/videos/{upload['videoId']}/preview", headers=headers).status_code == 202
    unsigned = _preview_settings(settings).model_copy(update={"content_credentials": "off"})
    assert _run_preview(app, session_factory, unsigned)
    preview = client.get(f"/videos/{upload['videoId']}", headers=headers).json()["previews"][0]
    assert preview["status"] == "COMPLETED" and preview["contentCredentials"] is None
    after = client.get(local_path(preview["afterUrl"])).content
    with pytest.raises(c2pa.C2paError):
        c2pa.Reader("video/mp4", io.BytesIO(after))


class _CompactStandIn(LanczosEnhancer):
    """Lanczos under a compact Real-ESRGAN name: which runner made the preview is what counts."""

    name = "realesr-general-x4v3"


def test_a_worker_makes_previews_only_with_their_jobs_enhancer(
    client: TestClient, app: FastAPI, session_factory: Factory, settings: Settings, clips: ClipLibrary
) -> None:
    from video_enhancer.worker.light_tasks import LightTasks
    from video_enhancer.worker.runner import JobRunner

    headers = new_user(client, Plan.CREATOR)
    upload = _upload_clip(client, headers, clips, BLACK_START, enhancer="realesr-general-x4v3")
    assert client.post(f"/videos/{upload['videoId']}/preview", headers=headers).status_code == 202
    preview_settings = _preview_settings(settings)
    storage: Storage = app.state.storage

    def runner(enhancer: Enhancer) -> JobRunner:
        return JobRunner(preview_settings, session_factory, storage, enhancer)

    lanczos_only = LightTasks({"lanczos": runner(LanczosEnhancer())}, "lanczos-worker", ["lanczos"])
    assert not lanczos_only.run_when_idle()  # another enhancer's preview: left for its workers
    [waiting] = client.get(f"/videos/{upload['videoId']}", headers=headers).json()["previews"]
    assert waiting["status"] == "QUEUED"

    both = {"lanczos": runner(LanczosEnhancer()), "realesr-general-x4v3": runner(_CompactStandIn())}
    assert LightTasks(both, "two-model-worker", list(both)).run_when_idle()
    [made] = client.get(f"/videos/{upload['videoId']}", headers=headers).json()["previews"]
    assert made["status"] == "COMPLETED" and made["enhancer"] == "realesr-general-x4v3"
