"""The worker's loaded enhancer replaces the one the API wrote on the job, as soon as it starts."""

from __future__ import annotations

from media.clips import CFR, ClipLibrary
from video_enhancer.config import Settings
from video_enhancer.models import Job, JobStatus
from video_enhancer.storage.base import Storage
from video_enhancer.worker.runner import JobRunner, Outcome
from worker.support import Factory, HookedLanczos, claim, queue_file


def _enhancer_of(factory: Factory, job: Job) -> tuple[JobStatus, str | None]:
    with factory() as session:
        fresh = session.get(Job, job.id)
        assert fresh is not None
        return fresh.status, fresh.enhancer


def test_the_running_enhancer_overwrites_the_api_guess_before_the_first_frame(
    session_factory: Factory, storage: Storage, worker_settings: Settings, clips: ClipLibrary
) -> None:
    job = queue_file(session_factory, storage, worker_settings, clips.get(CFR).path)
    with session_factory.begin() as session:
        queued = session.get(Job, job.id)
        assert queued is not None
        queued.enhancer = "stream-diffvsr"  # the API's settings named the model; this worker has none
    seen: list[tuple[JobStatus, str | None]] = []

    def on_frame(n: int) -> None:
        if n == 1:
            seen.append(_enhancer_of(session_factory, job))

    runner = JobRunner(worker_settings, session_factory, storage, HookedLanczos(on_frame=on_frame))
    outcome = runner.run(claim(session_factory))

    assert outcome.outcome == Outcome.COMPLETED
    assert seen == [(JobStatus.PROCESSING, "lanczos")]
    assert _enhancer_of(session_factory, job) == (JobStatus.COMPLETED, "lanczos")


def test_a_job_the_worker_no_longer_leases_keeps_its_enhancer(
    session_factory: Factory, storage: Storage, worker_settings: Settings, clips: ClipLibrary
) -> None:
    job = queue_file(session_factory, storage, worker_settings, clips.get(CFR).path)
    claimed = claim(session_factory)
    with session_factory.begin() as session:
        taken = session.get(Job, job.id)
        assert taken is not None
        taken.lease_owner, taken.enhancer = "another-worker", "stream-diffvsr"

    JobRunner(worker_settings, session_factory, storage, HookedLanczos())._record_enhancer(claimed)

    assert _enhancer_of(session_factory, job) == (JobStatus.PROCESSING, "stream-diffvsr")
