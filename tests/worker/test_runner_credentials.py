"""C2PA Content Credentials on every output, read back with the library's reader."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import c2pa
import pytest

from media.clips import CFR, PHONE_PORTRAIT, ClipLibrary
from video_enhancer.config import Settings
from video_enhancer.enhancers.lanczos import LanczosEnhancer
from video_enhancer.models import Job, JobStatus, Video
from video_enhancer.provenance.manifest import DIGITAL_SOURCE_TYPE
from video_enhancer.storage.base import Storage
from video_enhancer.worker.runner import JobRunner, Outcome
from worker.support import Factory, claim, queue_file


def _finished(factory: Factory, job: Job) -> tuple[Job, Video]:
    with factory() as session:
        done, video = session.get(Job, job.id), session.get(Video, job.video_id)
        assert done is not None and video is not None
        session.expunge_all()
        return done, video


def _manifest(path: Path) -> tuple[str, dict[str, object]]:
    with path.open("rb") as file:
        reader = c2pa.Reader("video/mp4", file)
        state = reader.get_validation_state()
        manifest = json.loads(reader.json())
    return state, manifest["manifests"][manifest["active_manifest"]]


def test_every_output_carries_a_valid_manifest_naming_its_source(
    session_factory: Factory, storage: Storage, worker_settings: Settings, clips: ClipLibrary, tmp_path: Path
) -> None:
    source = clips.get(PHONE_PORTRAIT).path
    job = queue_file(session_factory, storage, worker_settings, source)
    outcome = JobRunner(worker_settings, session_factory, storage, LanczosEnhancer()).run(
        claim(session_factory)
    )
    assert outcome.outcome == Outcome.COMPLETED
    done, video = _finished(session_factory, job)
    assert video.output_storage_path is not None
    output = tmp_path / "output.mp4"
    storage.download_to("enhanced", video.output_storage_path, output)

    state, active = _manifest(output)
    assert state in ("Valid", "Trusted")
    labels = {a["label"]: a["data"] for a in active["assertions"]}  # type: ignore[attr-defined]
    actions = labels["c2pa.actions.v2"]["actions"]
    assert [a["action"] for a in actions] == ["c2pa.opened", "c2pa.edited"]
    assert actions[1]["digitalSourceType"] == DIGITAL_SOURCE_TYPE
    assert actions[1]["softwareAgent"]["name"] == "video-enhancer/lanczos"
    digest = hashlib.sha256(source.read_bytes()).hexdigest()
    assert labels["org.video-enhancer.source"]["sha256"] == digest
    assert labels["org.video-enhancer.source"]["sizePlan"]["output"] == {"width": 256, "height": 384}
    assert active["ingredients"][0]["relationship"] == "parentOf"  # type: ignore[index]
    assert done.content_credentials is not None and done.content_credentials["sourceSha256"] == digest


def test_credentials_off_signs_nothing(
    session_factory: Factory, storage: Storage, worker_settings: Settings, clips: ClipLibrary, tmp_path: Path
) -> None:
    settings = worker_settings.model_copy(update={"content_credentials": "off"})
    job = queue_file(session_factory, storage, settings, clips.get(CFR).path)
    assert JobRunner(settings, session_factory, storage, LanczosEnhancer()).run(
        claim(session_factory)
    ).outcome == (Outcome.COMPLETED)
    done, video = _finished(session_factory, job)
    assert done.status == JobStatus.COMPLETED and done.content_credentials is None
    assert video.output_storage_path is not None
    output = tmp_path / "plain.mp4"
    storage.download_to("enhanced", video.output_storage_path, output)
    with pytest.raises(c2pa.C2paError):
        _manifest(output)


def test_production_refuses_to_start_without_a_signing_certificate() -> None:
    strong = "x" * 40
    with pytest.raises(ValueError, match="VE_CONTENT_CREDENTIALS_CERT"):
        Settings(env="production", jwt_secret=strong, url_signing_secret=strong)
    assert Settings(env="production", jwt_secret=strong, url_signing_secret=strong, content_credentials="off")
