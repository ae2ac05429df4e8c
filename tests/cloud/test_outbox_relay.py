"""The outbox relay against the Pub/Sub emulator, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import threading
import uuid
from concurrent.futures import Future

import pytest
from pubsub_helpers import audit_subscription, queue_job, relay, setup_pubsub
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from factories import make_job, make_user
from video_enhancer.config import Settings
from video_enhancer.db import session_scope
from video_enhancer.jobs.lifecycle import enqueue_job
from video_enhancer.models import Job, OutboxMessage, Plan, Video
from video_enhancer.queue.pubsub import make_publisher, relay_outbox_once


def _drain(subscriber, path: str, expected: int) -> list:
    messages: list = []
    for _ in range(50):
        response = subscriber.pull(request={"subscription": path, "max_messages": 100}, timeout=10)
        messages.extend(response.received_messages)
        if response.received_messages:
            subscriber.acknowledge(
                request={"subscription": path, "ack_ids": [m.ack_id for m in response.received_messages]}
            )
        if len(messages) >= expected:
            # One more pull: anything beyond `expected` would be a duplicate.
            extra = subscriber.pull(
                request={"subscription": path, "max_messages": 100, "return_immediately": True}, timeout=10
            )
            messages.extend(extra.received_messages)
            break
    return messages


def test_publishes_exactly_what_was_committed(
    pubsub_settings: Settings, session_factory: sessionmaker[Session]
) -> None:
    setup_pubsub(pubsub_settings)
    subscriber, audit = audit_subscription(pubsub_settings)
    # A job asking for an enhancer, and jobs asking for none (they run with the default one).
    asked = {Plan.PRO: "realesr-general-x4v3"}
    committed = {plan: queue_job(session_factory, pubsub_settings, plan, asked.get(plan)) for plan in Plan}
    with pytest.raises(RuntimeError), session_scope(session_factory) as session:
        enqueue_job(session, make_job(session, make_user(session)), pubsub_settings)
        raise RuntimeError("the request failed: its transaction rolls back")

    assert relay(session_factory, pubsub_settings) == 3
    assert relay(session_factory, pubsub_settings) == 0  # nothing left

    messages = _drain(subscriber, audit, expected=3)
    assert len(messages) == 3
    with session_factory() as session:
        for received in messages:
            body = json.loads(received.message.data)
            job = session.get(Job, uuid.UUID(body["jobId"]))
            assert job is not None and job.id in committed.values()
            video = session.get(Video, job.video_id)
            assert body == {
                "jobId": str(job.id),
                "videoId": str(job.video_id),
                "userId": str(job.user_id),
                "inputPath": video.storage_path,
                "priority": job.priority,
                "enhancer": asked.get(Plan.PRO) if job.id == committed[Plan.PRO] else "lanczos",
            }
            assert received.message.attributes["priority"] == str(job.priority)
            assert received.message.attributes["enhancer"] == body["enhancer"]
            assert received.message.attributes["jobId"] == str(job.id)
        rows = session.scalars(select(OutboxMessage)).all()
        assert len(rows) == 3 and all(row.published_at is not None for row in rows)


class _BrokenFuture(Future):
    def result(self, timeout: float | None = None):  # type: ignore[override]
        raise ConnectionError("Pub/Sub unreachable")


class _BrokenPublisher:
    """The publisher of a relay that dies between the commit and a successful publish."""

    def topic_path(self, project: str, topic: str) -> str:
        return f"projects/{project}/topics/{topic}"

    def publish(self, topic: str, data: bytes, **attrs: str) -> Future:
        return _BrokenFuture()


def test_a_failed_publish_is_relayed_later(
    pubsub_settings: Settings, session_factory: sessionmaker[Session]
) -> None:
    setup_pubsub(pubsub_settings)
    subscriber, audit = audit_subscription(pubsub_settings)
    job_id = queue_job(session_factory, pubsub_settings, Plan.CREATOR)

    assert relay_outbox_once(session_factory, _BrokenPublisher(), pubsub_settings.pubsub_project) == 0
    with session_factory() as session:
        row = session.scalars(select(OutboxMessage)).one()
        assert row.published_at is None and row.attempts == 1
        assert "Pub/Sub unreachable" in (row.last_error or "")

    # A later pass (another process, after a restart) publishes the row that was left behind.
    assert relay(session_factory, pubsub_settings) == 1
    messages = _drain(subscriber, audit, expected=1)
    assert [json.loads(m.message.data)["jobId"] for m in messages] == [str(job_id)]


def test_concurrent_relays_publish_each_row_once(
    pubsub_settings: Settings, session_factory: sessionmaker[Session]
) -> None:
    setup_pubsub(pubsub_settings)
    subscriber, audit = audit_subscription(pubsub_settings)
    job_ids = {str(queue_job(session_factory, pubsub_settings, Plan.FREE)) for _ in range(12)}
    publisher = make_publisher(pubsub_settings)
    totals: list[int] = []

    def relay_loop() -> None:
        published = 0
        for _ in range(6):
            published += relay_outbox_once(
                session_factory, publisher, pubsub_settings.pubsub_project, batch_size=2
            )
        totals.append(published)

    threads = [threading.Thread(target=relay_loop) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sum(totals) == 12
    messages = _drain(subscriber, audit, expected=12)
    published_ids = [json.loads(m.message.data)["jobId"] for m in messages]
    assert sorted(published_ids) == sorted(job_ids)  # every job once, no duplicate
