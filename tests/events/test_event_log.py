"""The event log: per-user ids, JSON shape, thinning and retention."""

from __future__ import annotations

import threading
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from factories import add_job, add_user
from video_enhancer.events.service import append_job_event, event_json, events_after, prune_events
from video_enhancer.models import EventType, Job, JobEvent, JobStatus, utcnow


def make_job(session: Session, email: str, status: JobStatus = JobStatus.QUEUED) -> Job:
    return add_job(session, add_user(session, email=email), status)


def test_ids_increase_by_one_per_user_and_the_json_is_camel_case(session: Session) -> None:
    first, other = make_job(session, "a@example.com"), make_job(session, "b@example.com")
    for _ in range(3):
        append_job_event(session, EventType.JOB_PROGRESS, first, progressPercent=10.0)
    append_job_event(session, EventType.JOB_QUEUED, other, queuePosition=1)
    session.commit()

    seqs = [e.seq for e in events_after(session, first.user_id, 0)]
    assert seqs == [1, 2, 3]
    assert [e.seq for e in events_after(session, other.user_id, 0)] == [1]
    assert [e.seq for e in events_after(session, first.user_id, 2)] == [3]
    body = event_json(events_after(session, other.user_id, 0)[0])
    assert body["id"] == 1 and body["type"] == "job.queued"
    assert body["timestamp"].endswith("Z")
    assert body["data"] == {
        "jobId": str(other.id),
        "videoId": str(other.video_id),
        "status": "QUEUED",
        "queuePosition": 1,
    }


def test_concurrent_appends_of_one_user_commit_in_id_order(session_factory: sessionmaker[Session]) -> None:
    with session_factory.begin() as session:
        job_id = make_job(session, "c@example.com").id
    errors: list[BaseException] = []

    def append_many() -> None:
        try:
            for _ in range(10):
                with session_factory.begin() as session:
                    job = session.get(Job, job_id)
                    assert job is not None
                    append_job_event(session, EventType.JOB_PROGRESS, job)
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=append_many) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors
    with session_factory() as session:
        seqs = session.scalars(select(JobEvent.seq).order_by(JobEvent.id)).all()
    assert sorted(seqs) == list(range(1, 41))
    assert list(seqs) == sorted(seqs), "a later id was inserted before an earlier one"


def test_prune_keeps_the_last_progress_of_ended_jobs_and_drops_old_events(session: Session) -> None:
    running, ended = make_job(session, "d@example.com"), make_job(session, "e@example.com")
    for job in (running, ended):
        for percent in (10.0, 20.0, 30.0):
            append_job_event(session, EventType.JOB_PROGRESS, job, progressPercent=percent)
    ended.status = JobStatus.COMPLETED
    append_job_event(session, EventType.JOB_COMPLETED, ended)
    session.commit()

    pruned = prune_events(session, utcnow(), retention_days=30)
    session.commit()
    assert pruned == 2
    assert len(events_after(session, running.user_id, 0)) == 3
    kept = events_after(session, ended.user_id, 0)
    assert [(e.type, e.data.get("progressPercent")) for e in kept] == [
        ("job.progress", 30.0),
        ("job.completed", None),
    ]

    assert prune_events(session, utcnow() + timedelta(days=31), retention_days=30) == 5
    session.commit()
    assert session.scalars(select(JobEvent)).all() == []
