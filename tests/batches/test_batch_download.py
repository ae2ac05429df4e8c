"""GET /batches/{batchId}/download: one ZIP of the enhanced videos, streamed in constant memory."""

from __future__ import annotations

import io
import os
import tracemalloc
import uuid
import zipfile
from pathlib import Path

from fastapi import FastAPI
from fastapi.testclient import TestClient

from video_enhancer.batches.archive import stream_zip
from video_enhancer.models import Job, JobStatus, Plan, Video
from video_enhancer.storage.base import Storage
from video_helpers import new_user, upload_body

MEMORY_BOUND = 8 * 1024 * 1024
"""The archive below is 9 times larger than this; the stream must stay under it."""


def _finish(app: FastAPI, job_id: str, content: bytes) -> None:
    """What a worker leaves behind: the job COMPLETED and the enhanced file stored."""
    storage = app.state.storage
    with app.state.session_factory.begin() as session:
        job = session.get(Job, uuid.UUID(job_id))
        assert job is not None
        video = session.get(Video, job.video_id)
        assert video is not None
        key = f"users/{job.user_id}/videos/{video.id}/enhanced.mp4"
        storage.put_stream("enhanced", key, io.BytesIO(content))
        video.output_storage_path = key
        job.status = JobStatus.COMPLETED


def test_the_zip_holds_every_enhanced_video_of_the_batch(client: TestClient, app: FastAPI) -> None:
    headers = new_user(client, Plan.PRO)
    body = {"videos": [upload_body(filename=name) for name in ("beach.mp4", "party.mov", "late.mp4")]}
    tickets = client.post("/batches", json=body, headers=headers).json()
    batch_id, jobs = tickets["batchId"], [t["jobId"] for t in tickets["videos"]]
    assert client.get(f"/batches/{batch_id}/download", headers=headers).status_code == 409
    _finish(app, jobs[0], b"first video")
    _finish(app, jobs[1], b"second video" * 1000)
    response = client.get(f"/batches/{batch_id}/download", headers=headers)
    assert response.status_code == 200 and response.headers["content-type"] == "application/zip"
    archive = zipfile.ZipFile(io.BytesIO(response.content))
    assert archive.namelist() == ["01-beach-enhanced.mp4", "02-party-enhanced.mp4"]  # the third is not done
    assert archive.read("02-party-enhanced.mp4") == b"second video" * 1000 and archive.testzip() is None
    assert client.get(f"/batches/{batch_id}/download", headers=new_user(client)).status_code == 404


def test_streaming_a_zip_larger_than_the_memory_bound_stays_under_it(
    tmp_path: Path, storage: Storage
) -> None:
    sizes = [24 * 1024 * 1024, 24 * 1024 * 1024, 24 * 1024 * 1024 + 17]
    for number, size in enumerate(sizes):
        with open(tmp_path / "source", "wb") as file:
            file.write(os.urandom(size))
        storage.put_file("enhanced", f"v{number}.mp4", tmp_path / "source")
    entries = ((f"{n}.mp4", storage.open_read("enhanced", f"v{n}.mp4")) for n in range(len(sizes)))
    target = tmp_path / "batch.zip"
    tracemalloc.start()
    try:
        with open(target, "wb") as out:
            for piece in stream_zip(entries):
                out.write(piece)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert target.stat().st_size > 9 * MEMORY_BOUND
    assert peak < MEMORY_BOUND, f"peak {peak} bytes"
    with zipfile.ZipFile(target) as archive:
        assert [info.file_size for info in archive.infolist()] == sizes
        assert archive.testzip() is None  # every CRC checks out
