"""Posters of every completed upload (detailed, upright), storyboards over 10 s, output posters."""

from __future__ import annotations

import io
import json
import uuid
from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient
from PIL import Image
from sqlalchemy.orm import Session, sessionmaker

from media.clips import BLACK_START, PHONE_PORTRAIT, ClipLibrary, ClipSpec
from video_enhancer.config import Settings
from video_enhancer.models import Plan, Video
from video_enhancer.storage.base import Storage
from video_enhancer.thumbnails.service import MAX_ATTEMPTS, claim_poster_task, run_poster_task
from video_helpers import local_path, new_user, put_upload, ticket

Factory = sessionmaker[Session]
STORYBOARD_CLIP = ClipSpec(name="storyboard", width=64, height=36, fps=4, seconds=12.0)


def _upload(
    client: TestClient, headers: dict[str, str], content: bytes, seconds: float = 2.0
) -> dict[str, Any]:
    upload = ticket(client, headers, sizeBytes=len(content), durationSeconds=seconds, autoStart=False)
    assert put_upload(client, upload, content).status_code in (200, 201, 204)
    return upload


def _run_posters(app: FastAPI, factory: Factory, settings: Settings) -> list[bool]:
    storage: Storage = app.state.storage
    results = []
    while (task := claim_poster_task(factory, 60)) is not None:
        results.append(run_poster_task(factory, storage, settings.worker_scratch_dir, task))
    return results


def _image(client: TestClient, url: str) -> Image.Image:
    response = client.get(local_path(url))
    assert response.status_code == 200
    return Image.open(io.BytesIO(response.content))


def test_the_poster_skips_the_black_opening(
    client: TestClient, app: FastAPI, session_factory: Factory, settings: Settings, clips: ClipLibrary
) -> None:
    headers = new_user(client, Plan.FREE)
    upload = _upload(client, headers, clips.get(BLACK_START).path.read_bytes(), 5.0)
    assert client.get(f"/videos/{upload['videoId']}", headers=headers).json()["thumbnailUrl"] is None
    assert _run_posters(app, session_factory, settings) == [True]
    video = client.get(f"/videos/{upload['videoId']}", headers=headers).json()
    poster = _image(client, video["thumbnailUrl"])
    assert poster.format == "JPEG" and poster.size == (96, 64)
    assert sum(poster.convert("L").getdata()) / (96 * 64) > 20  # not the black first second
    assert video["storyboardUrl"] is None and video["outputThumbnailUrl"] is None  # 5 s, no job run
    listed = client.get("/videos", headers=headers).json()["items"][0]
    assert listed["thumbnailUrl"]


def test_a_rotated_phone_clip_gets_an_upright_poster(
    client: TestClient, app: FastAPI, session_factory: Factory, settings: Settings, clips: ClipLibrary
) -> None:
    headers = new_user(client, Plan.FREE)
    upload = _upload(client, headers, clips.get(PHONE_PORTRAIT).path.read_bytes(), 4.0)
    assert _run_posters(app, session_factory, settings) == [True]
    video = client.get(f"/videos/{upload['videoId']}", headers=headers).json()
    assert _image(client, video["thumbnailUrl"]).size == (64, 96)


def test_a_video_over_10_seconds_gets_a_storyboard(
    client: TestClient, app: FastAPI, session_factory: Factory, settings: Settings, clips: ClipLibrary
) -> None:
    headers = new_user(client, Plan.CREATOR)
    upload = _upload(client, headers, clips.get(STORYBOARD_CLIP).path.read_bytes(), 12.0)
    assert _run_posters(app, session_factory, settings) == [True]
    video = client.get(f"/videos/{upload['videoId']}", headers=headers).json()
    timing = json.loads(client.get(local_path(video["storyboardTimingUrl"])).content)
    assert [tile["start"] for tile in timing["tiles"]] == [float(s) for s in range(12)]
    assert (timing["tileWidth"], timing["tileHeight"]) == (64, 36)
    sheet = _image(client, video["storyboardUrl"])
    assert sheet.size == (10 * 64, 2 * 36)
    assert timing["tiles"][11] == {"start": 11.0, "x": 64, "y": 36}


def test_a_bad_upload_gets_no_poster_and_is_given_up(
    client: TestClient, app: FastAPI, session_factory: Factory, settings: Settings
) -> None:
    headers = new_user(client, Plan.PRO)
    upload = _upload(client, headers, b"not a video at all")
    for _ in range(MAX_ATTEMPTS):
        assert _run_posters(app, session_factory, settings.model_copy()) == [False]
        with session_factory.begin() as session:  # let the next attempt claim it at once
            video = session.get(Video, uuid.UUID(upload["videoId"]))
            assert video is not None
            video.poster_claimed_at = None
    assert _run_posters(app, session_factory, settings) == []
    assert client.get(f"/videos/{upload['videoId']}", headers=headers).json()["thumbnailUrl"] is None


def test_each_picture_is_signed_once_and_a_list_signs_only_what_it_shows(
    client: TestClient, app: FastAPI, session_factory: Factory, monkeypatch: Any
) -> None:
    headers = new_user(client)
    upload = ticket(client, headers, autoStart=False)
    with session_factory.begin() as session:
        video = session.get_one(Video, uuid.UUID(upload["videoId"]))
        base = f"users/{video.user_id}/videos/{video.id}"
        video.thumbnail_path = f"{base}/poster.jpg"
        video.output_thumbnail_path = f"{base}/output-poster.jpg"
        video.storyboard_path = f"{base}/storyboard.jpg"
    storage: Storage = app.state.storage
    signed: list[str] = []
    sign = storage.signed_download_url

    def recording(bucket: str, key: str, **options: Any) -> Any:
        signed.append(key)
        return sign(bucket, key, **options)

    monkeypatch.setattr(storage, "signed_download_url", recording)
    listed = client.get("/videos", headers=headers).json()["items"][0]
    assert listed["thumbnailUrl"] and listed["outputThumbnailUrl"]
    assert sorted(signed) == sorted([f"{base}/poster.jpg", f"{base}/output-poster.jpg"])

    signed.clear()
    detail = client.get(f"/videos/{upload['videoId']}", headers=headers).json()
    assert detail["thumbnailUrl"] and detail["outputThumbnailUrl"] and detail["storyboardUrl"]
    assert detail["storyboardTimingUrl"]
    assert len(signed) == len(set(signed)), signed  # no URL signed twice
    assert {f"{base}/poster.jpg", f"{base}/output-poster.jpg", f"{base}/storyboard.jpg"} <= set(signed)
