"""Dead-lettered job messages fail their job; GCS finalize notifications queue the upload."""

from __future__ import annotations

import os
import threading
import uuid
from datetime import timedelta

import requests
from cloud_helpers import NOTIFY_BUCKET, NOTIFY_PROJECT
from pubsub_helpers import job_status, queue_job, relay, setup_pubsub, wait_until
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from factories import make_job, make_user
from video_enhancer.config import Settings
from video_enhancer.db import session_scope
from video_enhancer.jobs.lifecycle import DELIVERY_EXHAUSTED
from video_enhancer.models import Job, JobStatus, OutboxMessage, Plan, Video, utcnow
from video_enhancer.queue.pubsub import job_subscription, make_subscriber
from video_enhancer.queue.pubsub_pull import Pulled, drain_loop, pull_one, redeliver_after
from video_enhancer.queue.pubsub_side import DeadLetterConsumer, UploadFinalizedConsumer
from video_enhancer.storage.gcs import GcsStorage
from video_enhancer.videos.service import complete_upload_by_key


def _nack_until_dead_lettered(settings: Settings, priority: int) -> None:
    """A worker that crashes on the message every time: pulled and given back, over and over."""
    subscriber = make_subscriber(settings)
    path = subscriber.subscription_path(
        settings.pubsub_project, job_subscription(settings, "lanczos", priority)
    )
    deliveries = 0
    for _ in range(200):
        message = pull_one(subscriber, path)
        if message is None:
            if deliveries >= settings.pubsub_max_deliveries:
                return
            continue
        if message.attributes.get("priority") != str(priority):
            subscriber.acknowledge(request={"subscription": path, "ack_ids": [message.ack_id]})
            continue
        deliveries = message.delivery_attempt
        redeliver_after(subscriber, message, 0)
    raise AssertionError("the message was never dead-lettered")


def test_dead_lettered_job_is_failed_with_its_reason(
    pubsub_settings: Settings, session_factory: sessionmaker[Session]
) -> None:
    setup_pubsub(pubsub_settings)
    job_id = queue_job(session_factory, pubsub_settings, Plan.CREATOR)
    relay(session_factory, pubsub_settings)
    _nack_until_dead_lettered(pubsub_settings, priority=1)

    dead = DeadLetterConsumer(pubsub_settings, session_factory, make_subscriber(pubsub_settings))
    stop = threading.Event()
    thread = threading.Thread(
        target=drain_loop, args=(dead._subscriber, dead.subscription, dead.handle, stop, 0.2)
    )
    thread.start()
    try:
        wait_until(lambda: job_status(session_factory, job_id) == JobStatus.FAILED, 20, "the dead letter")
    finally:
        stop.set()
        thread.join()
    with session_factory() as session:
        job = session.get(Job, job_id)
        assert job is not None
        assert job.error_code == DELIVERY_EXHAUSTED
        assert f"after {pubsub_settings.pubsub_max_deliveries} delivery attempts" in (job.error_message or "")
        assert job.minutes_held == 0 and job.minutes_charged is None


def test_dead_letter_waits_for_a_job_still_running(
    pubsub_settings: Settings, session_factory: sessionmaker[Session]
) -> None:
    setup_pubsub(pubsub_settings)
    job_id = queue_job(session_factory, pubsub_settings, Plan.PRO)
    with session_scope(session_factory) as session:
        job = session.get(Job, job_id)
        assert job is not None
        job.status, job.lease_owner = JobStatus.PROCESSING, "worker-x"
        job.lease_expires_at = utcnow() + timedelta(seconds=60)
    relay(session_factory, pubsub_settings)
    _nack_until_dead_lettered(pubsub_settings, priority=2)

    subscriber = make_subscriber(pubsub_settings)
    dead = DeadLetterConsumer(pubsub_settings, session_factory, subscriber)
    pulled: list[Pulled] = []

    def dead_lettered() -> bool:
        message = pull_one(subscriber, dead.subscription)
        if message is not None:
            pulled.append(message)
        return bool(pulled)

    wait_until(dead_lettered, 10, "the dead letter")
    dead.handle(pulled[0])
    assert job_status(session_factory, job_id) == JobStatus.PROCESSING  # the live worker may finish


def _awaiting_upload(session_factory: sessionmaker[Session], size: int) -> tuple[uuid.UUID, str]:
    with session_scope(session_factory) as session:
        job = make_job(session, make_user(session, Plan.PRO), status=JobStatus.AWAITING_UPLOAD)
        video = session.get(Video, job.video_id)
        assert video is not None
        video.size_bytes = size
        return job.id, video.storage_path


def test_finalize_notification_queues_the_uploaded_job(
    settings: Settings,
    session_factory: sessionmaker[Session],
    gcs_emulator: str,
    pubsub_emulator: str,
    service_account_key,
) -> None:
    """The real path: signed PUT to fake-gcs-server -> its finalize event on the Pub/Sub
    emulator -> the consumer completes the upload -> the job is QUEUED with its outbox row."""
    cloud = settings.model_copy(
        update={
            "storage": "gcs",
            "gcs_endpoint": gcs_emulator,
            "gcs_credentials_file": service_account_key.path,
            "raw_bucket": NOTIFY_BUCKET,
            "enhanced_bucket": "notify-enhanced",
            "queue": "pubsub",
            "pubsub_emulator_host": pubsub_emulator,
            "pubsub_project": NOTIFY_PROJECT,
        }
    )
    storage = GcsStorage.from_settings(cloud)
    storage.ensure_buckets()
    setup_pubsub(cloud)
    body = os.urandom(2048)
    good_job, good_key = _awaiting_upload(session_factory, len(body))
    short_job, short_key = _awaiting_upload(session_factory, len(body) + 1)  # declared more than sent

    for key in (good_key, short_key):
        signed = storage.signed_upload_url(
            "raw", key, content_type="video/mp4", size_bytes=len(body) + 1, ttl_seconds=600
        )
        assert requests.put(signed.url, data=body, headers=signed.headers, timeout=30).status_code == 200

    subscriber = make_subscriber(cloud)
    consumer = UploadFinalizedConsumer(
        cloud, subscriber, complete_upload_by_key(session_factory, storage, cloud)
    )
    stop = threading.Event()
    thread = threading.Thread(
        target=drain_loop, args=(subscriber, consumer.subscription, consumer.handle, stop, 0.2)
    )
    thread.start()
    try:
        wait_until(lambda: job_status(session_factory, good_job) == JobStatus.QUEUED, 30, "the notification")
    finally:
        stop.set()
        thread.join()
    assert job_status(session_factory, short_job) == JobStatus.AWAITING_UPLOAD  # wrong size: not queued
    with session_factory() as session:
        outbox = session.scalars(select(OutboxMessage)).all()
        assert [row.payload["jobId"] for row in outbox] == [str(good_job)]
        video = session.scalars(select(Video).where(Video.storage_path == good_key)).one()
        assert video.uploaded_at is not None
