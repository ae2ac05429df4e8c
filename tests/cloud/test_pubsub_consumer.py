"""The job consumer against the Pub/Sub emulator: priority, duplicates, deadlines, retries."""

from __future__ import annotations

import itertools
import uuid

import pytest
from pubsub_helpers import (
    RecordingRunner,
    charges,
    consumer_running,
    job_status,
    make_consumer,
    queue_job,
    relay,
    setup_pubsub,
    wait_until,
)
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from video_enhancer.config import Settings
from video_enhancer.db import make_engine, make_session_factory, session_scope
from video_enhancer.jobs.lifecycle import request_cancel
from video_enhancer.models import Job, JobStatus, OutboxMessage, Plan
from video_enhancer.queue.pubsub import encode_payload, make_publisher, message_attributes
from video_enhancer.queue.pubsub_pull import TierScheduler


def test_scheduler_prefers_higher_plans_without_starving_free() -> None:
    scheduler = TierScheduler()
    picks = []
    for _ in range(70):  # a full backlog in every tier
        tier = scheduler.order()[0]
        scheduler.served(tier)
        picks.append(tier)
    assert picks[:3] == [2, 1, 2]
    assert (picks.count(2), picks.count(1), picks.count(0)) == (40, 20, 10)
    # FREE is never left waiting for more than one round of seven slots.
    free_slots = [i for i, t in enumerate(picks) if t == 0]
    assert free_slots[0] < 7 and all(b - a <= 7 for a, b in itertools.pairwise(free_slots))


def test_scheduler_with_one_job_per_tier_serves_pro_creator_free() -> None:
    scheduler = TierScheduler()
    waiting = {2, 1, 0}
    served = []
    while waiting:
        for tier in scheduler.order():
            if tier in waiting:
                waiting.remove(tier)
                scheduler.served(tier)
                served.append(tier)
                break
            scheduler.empty(tier)
    assert served == [2, 1, 0]


def test_jobs_run_pro_then_creator_then_free(
    pubsub_settings: Settings, session_factory: sessionmaker[Session]
) -> None:
    setup_pubsub(pubsub_settings)
    # Queued lowest plan first, so arrival order alone would give the opposite result.
    free, creator, pro = (
        queue_job(session_factory, pubsub_settings, plan) for plan in (Plan.FREE, Plan.CREATOR, Plan.PRO)
    )
    assert relay(session_factory, pubsub_settings) == 3
    runner = RecordingRunner(session_factory)
    with consumer_running(make_consumer(pubsub_settings, session_factory, runner)):
        wait_until(
            lambda: len(runner.runs) == 3 and job_status(session_factory, free) == JobStatus.COMPLETED,
            30,
            "three jobs",
        )
    assert runner.runs == [pro, creator, free]
    assert [charges(session_factory, j) for j in (pro, creator, free)] == [1, 1, 1]


def test_duplicate_and_stale_messages_process_and_charge_once(
    pubsub_settings: Settings, session_factory: sessionmaker[Session]
) -> None:
    setup_pubsub(pubsub_settings)
    job_id = queue_job(session_factory, pubsub_settings, Plan.PRO)
    canceled_id = queue_job(session_factory, pubsub_settings, Plan.PRO)
    with session_scope(session_factory) as session:
        job = session.get(Job, canceled_id)
        assert job is not None
        request_cancel(session, job)
    assert relay(session_factory, pubsub_settings) == 2
    # The same job announced again (an at-least-once redelivery, a relay that published twice).
    publisher = make_publisher(pubsub_settings)
    topic = publisher.topic_path(pubsub_settings.pubsub_project, pubsub_settings.pubsub_topic)
    with session_factory() as session:
        rows = session.scalars(select(OutboxMessage)).all()
    for row in rows:
        publisher.publish(topic, encode_payload(row.payload), **message_attributes(row.payload)).result(
            timeout=10
        )

    runner = RecordingRunner(session_factory)
    consumer = make_consumer(pubsub_settings, session_factory, runner)
    with consumer_running(consumer):
        wait_until(
            lambda: len([m for m in consumer.seen if m.attributes.get("priority") == "2"]) >= 4,
            30,
            "all four messages",
        )
        wait_until(lambda: job_status(session_factory, job_id) == JobStatus.COMPLETED, 30, "completion")
    assert runner.runs == [job_id]
    assert charges(session_factory, job_id) == 1
    assert job_status(session_factory, canceled_id) == JobStatus.CANCELED
    assert charges(session_factory, canceled_id) == 0


def test_transient_failure_is_nacked_and_retried(
    pubsub_settings: Settings, session_factory: sessionmaker[Session]
) -> None:
    setup_pubsub(pubsub_settings)
    job_id = queue_job(session_factory, pubsub_settings, Plan.CREATOR)
    relay(session_factory, pubsub_settings)
    runner = RecordingRunner(session_factory, fail_first=1)
    consumer = make_consumer(pubsub_settings, session_factory, runner)
    with consumer_running(consumer):
        wait_until(lambda: job_status(session_factory, job_id) == JobStatus.COMPLETED, 40, "the retry")
    assert runner.runs == [job_id, job_id]
    deliveries = [m.delivery_attempt for m in consumer.seen if m.attributes.get("priority") == "1"]
    assert deliveries[-1] == 2  # the nacked message came back once
    with session_factory() as session:
        job = session.get(Job, job_id)
        assert job is not None and job.attempts == 2
    assert charges(session_factory, job_id) == 1


def test_ack_deadline_is_extended_while_a_long_job_runs(
    postgres_url: str, pubsub_emulator: str, tmp_path
) -> None:
    """A 10 s ack deadline and a 16 s job: without extensions Pub/Sub would redeliver to the
    second worker. PostgreSQL only: it takes real time, and the database is not the subject."""
    settings = Settings(
        env="test",
        database_url=postgres_url,
        queue="pubsub",
        pubsub_emulator_host=pubsub_emulator,
        pubsub_project=f"ve-deadline-{uuid.uuid4().hex[:8]}",
        worker_scratch_dir=tmp_path,
    )
    engine = make_engine(postgres_url, pool_size=4)
    session_factory = make_session_factory(engine)
    try:
        setup_pubsub(settings, ack_deadline_seconds=10)
        job_id = queue_job(session_factory, settings, Plan.PRO)
        relay(session_factory, settings)
        slow = RecordingRunner(session_factory, seconds=16)
        other = RecordingRunner(session_factory)
        first = make_consumer(settings, session_factory, slow, worker_id="worker-a")
        with consumer_running(first):
            wait_until(lambda: slow.runs == [job_id], 20, "the first worker to start")
            second = make_consumer(settings, session_factory, other, worker_id="worker-b")
            with consumer_running(second):
                wait_until(
                    lambda: job_status(session_factory, job_id) == JobStatus.COMPLETED, 30, "completion"
                )
        assert other.runs == [] and [m for m in second.seen if m.attributes.get("jobId") == str(job_id)] == []
        assert charges(session_factory, job_id) == 1
    finally:
        engine.dispose()


@pytest.mark.parametrize("concurrency", [2])
def test_flow_control_holds_at_most_concurrency_messages(
    pubsub_settings: Settings, session_factory: sessionmaker[Session], concurrency: int
) -> None:
    setup_pubsub(pubsub_settings)
    jobs = [queue_job(session_factory, pubsub_settings, Plan.PRO) for _ in range(4)]
    relay(session_factory, pubsub_settings)
    runner = RecordingRunner(session_factory, seconds=1.0)
    consumer = make_consumer(pubsub_settings, session_factory, runner, concurrency=concurrency)
    peak = 0
    with consumer_running(consumer):

        def done() -> bool:
            nonlocal peak
            peak = max(peak, len(consumer.keeper._held))
            return all(job_status(session_factory, j) == JobStatus.COMPLETED for j in jobs)

        wait_until(done, 30, "four jobs")
    assert 1 <= peak <= concurrency
    assert sorted(runner.runs) == sorted(jobs)
