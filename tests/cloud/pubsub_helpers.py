"""Helpers for the Pub/Sub tests: queued jobs, a recording job runner, consumers in threads."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from google.cloud import pubsub_v1
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from factories import make_job, make_user
from video_enhancer.config import Settings
from video_enhancer.db import session_scope
from video_enhancer.jobs.lifecycle import complete_job, enqueue_job
from video_enhancer.models import Job, JobStatus, Plan, UsageEntry
from video_enhancer.queue.database import ClaimedJob, CompletedOutput
from video_enhancer.queue.pubsub import make_publisher, make_subscriber, relay_outbox_once
from video_enhancer.queue.pubsub_admin import ensure_pubsub_resources
from video_enhancer.queue.pubsub_pull import Pulled
from video_enhancer.queue.pubsub_worker import LightWork, PubSubJobConsumer

SessionFactory = sessionmaker[Session]


def queue_job(
    session_factory: SessionFactory, settings: Settings, plan: Plan, enhancer: str | None = None
) -> uuid.UUID:
    """A user of `plan` with one job made QUEUED by `enqueue_job` (which writes the outbox row);
    it asks for `enhancer`, or for nothing (the default enhancer, lanczos in the tests)."""
    with session_scope(session_factory) as session:
        job = make_job(session, make_user(session, plan))
        job.enhancer = enhancer
        enqueue_job(session, job, settings)
        return job.id


def job_status(session_factory: SessionFactory, job_id: uuid.UUID) -> JobStatus:
    with session_factory() as session:
        job = session.get(Job, job_id)
        assert job is not None
        return job.status


def charges(session_factory: SessionFactory, job_id: uuid.UUID) -> int:
    with session_factory() as session:
        return int(session.scalar(select(func.count()).where(UsageEntry.job_id == job_id)) or 0)


def wait_until(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


@dataclass
class RecordingRunner:
    """Stands in for the media runner: records each run, optionally sleeps or fails, and
    completes through the real `complete_job` (so charging is the real thing)."""

    session_factory: SessionFactory
    seconds: float = 0.0
    fail_first: int = 0
    runs: list[uuid.UUID] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def run(self, claimed: ClaimedJob) -> None:
        with self.lock:
            self.runs.append(claimed.job_id)
            failing = len(self.runs) <= self.fail_first
        time.sleep(self.seconds)
        if failing:
            raise RuntimeError("transient failure for the test")
        output = CompletedOutput(
            measured_seconds=5.0,
            output_storage_path=f"out/{claimed.job_id}.mp4",
            output_resolution="64x48",
            output_size_bytes=10,
            enhancer="test",
        )
        complete_job(self.session_factory, claimed, output)


class RecordingConsumer(PubSubJobConsumer):
    """The real consumer, noting every job message it is handed."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.seen: list[Pulled] = []

    def handle(self, message: Pulled) -> None:
        self.seen.append(message)
        super().handle(message)


def setup_pubsub(settings: Settings, ack_deadline_seconds: int = 10) -> None:
    ensure_pubsub_resources(settings, ack_deadline_seconds=ack_deadline_seconds, retry_min_seconds=None)


def relay(session_factory: SessionFactory, settings: Settings) -> int:
    return relay_outbox_once(session_factory, make_publisher(settings), settings.pubsub_project)


def audit_subscription(settings: Settings, name: str = "audit") -> tuple[pubsub_v1.SubscriberClient, str]:
    """A plain subscription on the job topic that sees every published message."""
    subscriber = make_subscriber(settings)
    path = subscriber.subscription_path(settings.pubsub_project, name)
    topic = f"projects/{settings.pubsub_project}/topics/{settings.pubsub_topic}"
    subscriber.create_subscription(request={"name": path, "topic": topic, "ack_deadline_seconds": 60})
    return subscriber, path


@contextmanager
def consumer_running(consumer: PubSubJobConsumer) -> Iterator[threading.Event]:
    stop = threading.Event()
    thread = threading.Thread(target=consumer.run, args=(stop,), daemon=True)
    thread.start()
    try:
        yield stop
    finally:
        stop.set()
        thread.join(timeout=60)
        assert not thread.is_alive(), "consumer did not stop"


def make_consumer(
    settings: Settings,
    session_factory: SessionFactory,
    runner: RecordingRunner,
    *,
    worker_id: str = "worker-a",
    concurrency: int = 1,
    ack_deadline_seconds: int = 10,
    enhancers: tuple[str, ...] = ("lanczos",),
    light_work: LightWork | None = None,
) -> RecordingConsumer:
    """A consumer with `enhancers` loaded, each run by `runner`."""
    return RecordingConsumer(
        settings,
        session_factory,
        make_subscriber(settings),
        dict.fromkeys(enhancers, lambda: runner),
        worker_id=worker_id,
        concurrency=concurrency,
        ack_deadline_seconds=ack_deadline_seconds,
        idle_seconds=0.2,
        light_work=light_work,
    )
