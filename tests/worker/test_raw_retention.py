"""The worker's periodic sweep deletes the uploads of failed and canceled jobs after
`VE_RAW_RETENTION_HOURS`, and only those."""

from __future__ import annotations

import io
import threading
import time
from datetime import timedelta

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from factories import add_job, add_user
from video_enhancer.config import Settings
from video_enhancer.models import Job, JobStatus, Video, utcnow
from video_enhancer.storage.base import Storage
from video_enhancer.videos.retention import delete_expired_raw_uploads
from video_enhancer.worker.process import WorkerProcess
from worker.support import HookedLanczos

RETENTION_HOURS = 24


def _stored_job(session: Session, storage: Storage, status: JobStatus, ended_hours_ago: float) -> Job:
    user = add_user(session)
    job = add_job(session, user, status, completed_at=utcnow() - timedelta(hours=ended_hours_ago))
    video = session.get(Video, job.video_id)
    assert video is not None
    storage.put_stream("raw", video.storage_path, io.BytesIO(b"original bytes"), "video/mp4")
    return job


def _raw_exists(session: Session, storage: Storage, job: Job) -> bool:
    video = session.get(Video, job.video_id)
    assert video is not None
    return storage.exists("raw", video.storage_path)


def test_the_sweep_deletes_only_expired_uploads_of_jobs_that_ended_without_a_result(
    engine: Engine, session: Session, storage: Storage, worker_settings: Settings
) -> None:
    settings = worker_settings.model_copy(
        update={"raw_retention_hours": RETENTION_HOURS, "job_lease_seconds": 1}
    )
    old_failed = _stored_job(session, storage, JobStatus.FAILED, RETENTION_HOURS + 1)
    old_canceled = _stored_job(session, storage, JobStatus.CANCELED, RETENTION_HOURS + 1)
    recent_failed = _stored_job(session, storage, JobStatus.FAILED, RETENTION_HOURS - 1)
    old_completed = _stored_job(session, storage, JobStatus.COMPLETED, RETENTION_HOURS + 1)
    session.commit()

    worker = WorkerProcess(settings, engine=engine, storage=storage, enhancer=HookedLanczos())
    thread = threading.Thread(target=worker.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 30
        while _raw_exists(session, storage, old_canceled) and time.monotonic() < deadline:
            session.rollback()
            time.sleep(0.2)
    finally:
        worker.stop()
        thread.join(timeout=30)

    session.rollback()
    assert not _raw_exists(session, storage, old_failed)
    assert not _raw_exists(session, storage, old_canceled)
    assert _raw_exists(session, storage, recent_failed)
    assert _raw_exists(session, storage, old_completed)
    deleted_video = session.get(Video, old_failed.video_id)
    assert deleted_video is not None and deleted_video.raw_deleted_at is not None
    session.commit()


def test_a_swept_video_is_not_visited_again_and_a_video_still_in_use_is_kept(
    session: Session, storage: Storage, worker_settings: Settings
) -> None:
    settings = worker_settings.model_copy(update={"raw_retention_hours": RETENTION_HOURS})
    failed = _stored_job(session, storage, JobStatus.FAILED, RETENTION_HOURS + 1)
    retried = Job(user_id=failed.user_id, video_id=failed.video_id, status=JobStatus.QUEUED)
    session.add(retried)
    swept = _stored_job(session, storage, JobStatus.CANCELED, RETENTION_HOURS + 1)
    session.flush()

    assert delete_expired_raw_uploads(session, settings, storage, utcnow()) == 1
    assert delete_expired_raw_uploads(session, settings, storage, utcnow()) == 0
    assert _raw_exists(session, storage, failed)  # its video has a job that may still run
    assert not _raw_exists(session, storage, swept)
    session.commit()
