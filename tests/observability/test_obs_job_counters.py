"""The worker's job counters and gauges move wherever a job ends, not only inside the job runner.

`ve_jobs_finished_total` counts each change to a final status once, whoever made it: stalled-job
recovery, the Pub/Sub dead-letter handler, the Pub/Sub consumer's safety net. The consumer keeps
`ve_worker_busy_jobs` while a job runs, and storage errors are labelled with the failed step.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import pytest
from prometheus_client import REGISTRY
from sqlalchemy.orm import Session, sessionmaker

from factories import make_job, make_user
from media.clips import CFR, ClipLibrary
from video_enhancer.config import Settings
from video_enhancer.enhancers.lanczos import LanczosEnhancer
from video_enhancer.errors import StorageUnavailable
from video_enhancer.jobs.lifecycle import (
    DELIVERY_EXHAUSTED,
    WORKER_LOST,
    claim_next_job,
    enqueue_job,
    requeue_expired_leases,
)
from video_enhancer.models import Job, JobStatus, utcnow
from video_enhancer.observability.metrics import StorageOperation, record_job_finished
from video_enhancer.queue.database import ClaimedJob
from video_enhancer.queue.pubsub import JobMessage, encode_payload
from video_enhancer.queue.pubsub_pull import Pulled
from video_enhancer.queue.pubsub_side import DeadLetterConsumer
from video_enhancer.queue.pubsub_worker import WORKER_ERROR, PubSubJobConsumer
from video_enhancer.storage.base import Storage
from video_enhancer.storage.local import LocalStorage
from video_enhancer.worker.runner import JobRunner, Outcome
from worker.support import claim, queue_file

Factory = sessionmaker[Session]


def _sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def _finished(status: JobStatus, error_code: str = "") -> float:
    return _sample("ve_jobs_finished_total", status=status.value, error_code=error_code)


def _queued_job(session_factory: Factory, settings: Settings, max_attempts: int = 3) -> Job:
    with session_factory() as session:
        job = make_job(session, make_user(session), max_attempts=max_attempts)
        enqueue_job(session, job, settings)
        session.commit()
        return job


def _status(session_factory: Factory, job_id: uuid.UUID) -> JobStatus:
    with session_factory() as session:
        job = session.get(Job, job_id)
        assert job is not None
        return job.status


# Stalled-job recovery


def test_lease_expired_job_out_of_attempts_counts_as_worker_lost(
    session_factory: Factory, settings: Settings
) -> None:
    job = _queued_job(session_factory, settings, max_attempts=2)
    before = _finished(JobStatus.FAILED, WORKER_LOST)
    later = utcnow()
    for _attempt in (1, 2):
        assert claim_next_job(session_factory, "vanishing-worker", 5, now=later) is not None
        later += timedelta(seconds=6)
        requeue_expired_leases(session_factory, now=later)
        if _attempt == 1:  # requeued with an attempt left: not final, not counted
            assert _finished(JobStatus.FAILED, WORKER_LOST) == before
    assert _status(session_factory, job.id) == JobStatus.FAILED
    assert _finished(JobStatus.FAILED, WORKER_LOST) == before + 1
    requeue_expired_leases(session_factory, now=later + timedelta(minutes=1))  # nothing left to do
    assert _finished(JobStatus.FAILED, WORKER_LOST) == before + 1


def test_retries_count_once_each_and_the_last_attempt_counts_as_failed(
    session_factory: Factory, settings: Settings
) -> None:
    from video_enhancer.jobs.lifecycle import retry_job

    job = _queued_job(session_factory, settings, max_attempts=2)
    retries_before = _sample("ve_job_retries_total", reason="STORAGE_UNAVAILABLE")
    failed_before = _finished(JobStatus.FAILED, "STORAGE_UNAVAILABLE")
    later = utcnow()
    for expected in (JobStatus.QUEUED, JobStatus.FAILED):
        claimed = claim_next_job(session_factory, "worker", 60, now=later)
        assert claimed is not None
        assert retry_job(session_factory, claimed, "STORAGE_UNAVAILABLE", "down", now=later) == expected
        assert retry_job(session_factory, claimed, "STORAGE_UNAVAILABLE", "down", now=later) is None
        later += timedelta(hours=1)  # past the back-off
    assert _status(session_factory, job.id) == JobStatus.FAILED
    assert _sample("ve_job_retries_total", reason="STORAGE_UNAVAILABLE") == retries_before + 1
    assert _finished(JobStatus.FAILED, "STORAGE_UNAVAILABLE") == failed_before + 1


def test_counter_refuses_a_status_that_is_not_final() -> None:
    with pytest.raises(ValueError, match="not a final job status"):
        record_job_finished(JobStatus.QUEUED)


# Pub/Sub: a fake transport; the database, the consumer and the counters are the real ones


class _RecordingSubscriber:
    """Stands in for the Pub/Sub client: names subscriptions and records acks and nacks."""

    def __init__(self) -> None:
        self.acked: list[str] = []
        self.deadlines: list[tuple[str, int]] = []

    def subscription_path(self, project: str, name: str) -> str:
        return f"projects/{project}/subscriptions/{name}"

    def acknowledge(self, request: dict[str, Any]) -> None:
        self.acked.extend(request["ack_ids"])

    def modify_ack_deadline(self, request: dict[str, Any]) -> None:
        self.deadlines.extend((ack_id, request["ack_deadline_seconds"]) for ack_id in request["ack_ids"])


def _message(job: Job, attributes: dict[str, str] | None = None) -> Pulled:
    payload = JobMessage(job.id, job.video_id, job.user_id, None, job.priority).to_payload()
    return Pulled("projects/p/subscriptions/s", f"ack-{job.id}", encode_payload(payload), attributes or {}, 1)


class _BrokenRunner:
    """A runner that raises out of `run` (what the consumer's safety net is for)."""

    def __init__(self) -> None:
        self.busy_during_run: float | None = None

    def run(self, claimed: ClaimedJob) -> None:
        self.busy_during_run = _sample("ve_worker_busy_jobs")
        raise RuntimeError("runner bug")


def test_pubsub_consumer_counts_busy_and_its_safety_net_failure(
    session_factory: Factory, settings: Settings
) -> None:
    job = _queued_job(session_factory, settings, max_attempts=1)
    subscriber, runner = _RecordingSubscriber(), _BrokenRunner()
    consumer = PubSubJobConsumer(
        settings,
        session_factory,
        subscriber,  # type: ignore[arg-type]
        {"lanczos": lambda: runner},
        worker_id="pubsub-worker",
    )
    busy_before, failed_before = _sample("ve_worker_busy_jobs"), _finished(JobStatus.FAILED, WORKER_ERROR)

    consumer.handle(_message(job))

    assert runner.busy_during_run == busy_before + 1
    assert _sample("ve_worker_busy_jobs") == busy_before
    assert _status(session_factory, job.id) == JobStatus.FAILED
    assert _finished(JobStatus.FAILED, WORKER_ERROR) == failed_before + 1
    assert subscriber.acked == [f"ack-{job.id}"]


def test_dead_lettered_job_counts_once(session_factory: Factory, settings: Settings) -> None:
    job = _queued_job(session_factory, settings)
    consumer = DeadLetterConsumer(settings, session_factory, _RecordingSubscriber())  # type: ignore[arg-type]
    before = _finished(JobStatus.FAILED, DELIVERY_EXHAUSTED)
    message = _message(job, {"CloudPubSubDeadLetterSourceDeliveryCount": "5"})

    consumer.handle(message)
    consumer.handle(message)  # redelivered: the job is FAILED already, nothing changes

    assert _status(session_factory, job.id) == JobStatus.FAILED
    assert _finished(JobStatus.FAILED, DELIVERY_EXHAUSTED) == before + 1


# Storage errors, labelled by the step that failed


class _StorageFailing:
    """Real storage, except that one method fails with an outage in one area."""

    def __init__(self, inner: Storage, method: str, area: str) -> None:
        self._inner, self._method, self._area = inner, method, area

    def __getattr__(self, name: str) -> Any:
        real = getattr(self._inner, name)
        if name != self._method:
            return real

        def failing(area: str, *args: Any, **kwargs: Any) -> Any:
            if area == self._area:
                raise StorageUnavailable()
            return real(area, *args, **kwargs)

        return failing


@pytest.mark.parametrize(
    ("method", "area", "operation"),
    [
        ("download_to", "raw", StorageOperation.DOWNLOAD),
        ("list_keys", "enhanced", StorageOperation.CHECKPOINT),  # loading the checkpoint
        ("put_stream", "enhanced", StorageOperation.CHECKPOINT),  # saving a segment's state
        ("size", "enhanced", StorageOperation.UPLOAD),  # reading back the stored output
    ],
)
def test_storage_outage_is_counted_under_its_step(
    session_factory: Factory,
    settings: Settings,
    clips: ClipLibrary,
    method: str,
    area: str,
    operation: StorageOperation,
) -> None:
    storage = LocalStorage.from_settings(settings)
    queue_file(session_factory, storage, settings, clips.get(CFR).path)
    failing = _StorageFailing(storage, method, area)
    runner = JobRunner(settings, session_factory, failing, LanczosEnhancer())  # type: ignore[arg-type]
    before = {op: _sample("ve_storage_errors_total", operation=op.value) for op in StorageOperation}

    outcome = runner.run(claim(session_factory))

    assert outcome.outcome == Outcome.RETRYING and outcome.error_code == "STORAGE_UNAVAILABLE"
    after = {op: _sample("ve_storage_errors_total", operation=op.value) for op in StorageOperation}
    assert after == {**before, operation: before[operation] + 1}


def test_checkpoint_cleanup_outage_leaves_the_job_completed(
    session_factory: Factory, settings: Settings, clips: ClipLibrary
) -> None:
    storage = LocalStorage.from_settings(settings)
    job = queue_file(session_factory, storage, settings, clips.get(CFR).path)
    failing = _StorageFailing(storage, "delete_prefix", "enhanced")
    runner = JobRunner(settings, session_factory, failing, LanczosEnhancer())  # type: ignore[arg-type]
    checkpoint_errors = _sample("ve_storage_errors_total", operation="checkpoint")
    completed = _finished(JobStatus.COMPLETED)

    outcome = runner.run(claim(session_factory))

    assert outcome.outcome == Outcome.COMPLETED
    assert _status(session_factory, job.id) == JobStatus.COMPLETED
    assert _finished(JobStatus.COMPLETED) == completed + 1
    assert _sample("ve_storage_errors_total", operation="checkpoint") == checkpoint_errors + 1


# Upload expiry (the worker's maintenance thread)


def test_expired_uploads_count_as_canceled(session_factory: Factory, settings: Settings) -> None:
    from video_enhancer.models import Video
    from video_enhancer.storage.factory import make_storage
    from video_enhancer.worker.process import WorkerProcess

    with session_factory() as session:
        job = make_job(session, make_user(session), status=JobStatus.AWAITING_UPLOAD)
        video = session.get(Video, job.video_id)
        assert video is not None
        video.upload_expires_at = utcnow() - timedelta(minutes=1)
        session.commit()
        job_id = job.id
    before = _finished(JobStatus.CANCELED)

    WorkerProcess(settings)._expire_uploads(session_factory, make_storage(settings))

    assert _status(session_factory, job_id) == JobStatus.CANCELED
    assert _finished(JobStatus.CANCELED) == before + 1
