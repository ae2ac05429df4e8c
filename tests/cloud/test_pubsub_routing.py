"""Routing by enhancer on the Pub/Sub emulator: each worker gets only the jobs of the enhancers it
has loaded, runs each with that enhancer's runner, and a job for an enhancer no worker offers
stays QUEUED with its message kept until a worker with that enhancer starts."""

from __future__ import annotations

import time
import uuid

from pubsub_helpers import (
    RecordingConsumer,
    RecordingRunner,
    consumer_running,
    job_status,
    make_consumer,
    queue_job,
    relay,
    setup_pubsub,
    wait_until,
)
from sqlalchemy.orm import Session, sessionmaker

from video_enhancer.config import Settings
from video_enhancer.models import JobStatus, Plan
from video_enhancer.queue.pubsub import JobMessage, encode_payload, make_publisher, make_subscriber

GENERAL, ANIME = "realesr-general-x4v3", "realesr-animevideov3"


def _completed(session_factory: sessionmaker[Session], job_id: uuid.UUID) -> bool:
    return job_status(session_factory, job_id) == JobStatus.COMPLETED


def _handled(consumer: RecordingConsumer) -> set[str]:
    return {m.attributes["jobId"] for m in consumer.seen}


def test_two_workers_with_different_enhancers_each_get_only_their_jobs(
    pubsub_settings: Settings, session_factory: sessionmaker[Session]
) -> None:
    setup_pubsub(pubsub_settings)

    def queue(plan: Plan, enhancer: str | None) -> uuid.UUID:
        return queue_job(session_factory, pubsub_settings, plan, enhancer)

    lanczos_jobs = [queue(Plan.FREE, "lanczos"), queue(Plan.PRO, "lanczos")]
    general_jobs = [queue(Plan.CREATOR, GENERAL), queue(Plan.PRO, GENERAL)]
    anime_job = queue(Plan.FREE, ANIME)
    missing = queue(Plan.PRO, "stream-diffvsr")  # no running worker has it: it must wait
    default_job = queue(Plan.CREATOR, None)  # asks for nothing: the default enhancer (lanczos)
    assert relay(session_factory, pubsub_settings) == 7

    lanczos = RecordingRunner(session_factory)
    general, anime = RecordingRunner(session_factory), RecordingRunner(session_factory)
    first = make_consumer(pubsub_settings, session_factory, lanczos, worker_id="lanczos-worker")
    second = RecordingConsumer(
        pubsub_settings,
        session_factory,
        make_subscriber(pubsub_settings),
        {GENERAL: lambda: general, ANIME: lambda: anime},
        worker_id="esrgan-worker",
        idle_seconds=0.2,
    )
    done = [*lanczos_jobs, *general_jobs, anime_job, default_job]
    with consumer_running(first), consumer_running(second):
        wait_until(lambda: all(_completed(session_factory, j) for j in done), 40, "jobs")
        time.sleep(1.0)  # a few more empty pulls: the waiting job's message must stay untouched

    assert sorted(lanczos.runs) == sorted([*lanczos_jobs, default_job])
    assert lanczos.runs.index(lanczos_jobs[1]) < lanczos.runs.index(lanczos_jobs[0])  # PRO before FREE
    assert sorted(general.runs) == sorted(general_jobs) and anime.runs == [anime_job]
    assert _handled(first) == {str(j) for j in [*lanczos_jobs, default_job]}
    assert _handled(second) == {str(j) for j in [*general_jobs, anime_job]}
    assert job_status(session_factory, missing) == JobStatus.QUEUED

    # Its message was kept: the first worker that loads the enhancer runs it.
    diffusion = RecordingRunner(session_factory)
    late = make_consumer(pubsub_settings, session_factory, diffusion, enhancers=("stream-diffvsr",))
    with consumer_running(late):
        wait_until(lambda: job_status(session_factory, missing) == JobStatus.COMPLETED, 30, "the waiting job")
    assert diffusion.runs == [missing]


def test_a_message_routed_against_its_job_row_is_never_run_with_the_wrong_enhancer(
    pubsub_settings: Settings, session_factory: sessionmaker[Session]
) -> None:
    setup_pubsub(pubsub_settings)
    job_id = queue_job(session_factory, pubsub_settings, Plan.PRO, "stream-diffvsr")
    # A message written by hand (or by a buggy publisher) that says lanczos for this job.
    message = JobMessage(job_id, uuid.uuid4(), uuid.uuid4(), None, 2, enhancer="lanczos").to_payload()
    publisher = make_publisher(pubsub_settings)
    topic = publisher.topic_path(pubsub_settings.pubsub_project, pubsub_settings.pubsub_topic)
    attributes = {"priority": "2", "enhancer": "lanczos", "jobId": str(job_id)}
    publisher.publish(topic, encode_payload(message), **attributes).result(timeout=10)

    runner = RecordingRunner(session_factory)
    consumer = make_consumer(pubsub_settings, session_factory, runner)
    with consumer_running(consumer):
        wait_until(lambda: str(job_id) in _handled(consumer), 20, "the misrouted message")
        time.sleep(0.5)
    assert runner.runs == []
    assert job_status(session_factory, job_id) == JobStatus.QUEUED
