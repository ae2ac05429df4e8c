"""The unpaid work a worker runs beside jobs: posters and previews, both kept in the database.

Whatever the queue, they are claimed from the database (`thumbnails.service.claim_poster_task`,
`previews.service.claim_next_preview`), and the queue's loop decides when:

* a poster (a second or two, never charged) goes ahead of paid work: a completed upload shows
  its picture at once, whether or not a job starts;
* a preview runs only when no job is waiting (and, on Pub/Sub, none runs on this worker), so
  previews never take a GPU from paid work; a job that arrives meanwhile waits for at most one
  preview (`VE_PREVIEW_SECONDS` of video).

Each `claim_*` claims one task and returns what runs it, or None when there is none; that is
the `queue.pubsub_worker.LightWork` protocol, and the database loop calls the same methods.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from video_enhancer.observability.metrics import WORKER_BUSY
from video_enhancer.worker.runner import JobRunner

logger = logging.getLogger(__name__)

LightTask = Callable[[], object]


@dataclass(frozen=True)
class LightTasks:
    """Posters and previews for one claim loop. `runners` are the loop's job runners by enhancer
    name: they lend their database, storage and settings, and a preview runs with its job's
    enhancer; `enhancers` limits which previews are claimed (None: any, run with the first
    runner when this worker lacks the preview's enhancer, as `VE_ENHANCERS=auto` takes any job)."""

    runners: Mapping[str, JobRunner]
    lease_owner: str
    enhancers: list[str] | None = None

    @property
    def runner(self) -> JobRunner:
        return next(iter(self.runners.values()))

    def claim_ahead(self) -> LightTask | None:
        """A completed upload's poster, or None."""
        from video_enhancer.thumbnails.service import claim_poster_task, run_poster_task

        runner = self.runner
        task = claim_poster_task(runner.session_factory, runner.settings.job_lease_seconds)
        if task is None:
            return None
        scratch = runner.settings.worker_scratch_dir
        return lambda: run_poster_task(runner.session_factory, runner.storage, scratch, task)

    def claim_when_idle(self) -> LightTask | None:
        """The oldest waiting preview, or None."""
        from video_enhancer.previews.runner import PreviewRunner
        from video_enhancer.previews.service import claim_next_preview

        runner = self.runner
        lease = runner.settings.job_lease_seconds
        claimed = claim_next_preview(runner.session_factory, self.lease_owner, lease, self.enhancers)
        if claimed is None:
            return None
        enhancer = self.runners.get(claimed.enhancer or "", runner).enhancer
        preview = PreviewRunner(runner.settings, runner.session_factory, runner.storage, enhancer)

        def run() -> bool:
            with WORKER_BUSY.track_inprogress():
                return preview.run(claimed)

        return run

    def run_ahead(self) -> bool:
        """Claim and run a poster here; False when there was none (or claiming failed)."""
        return _run_claimed(self.claim_ahead, "poster")

    def run_when_idle(self) -> bool:
        """Claim and run a preview here; False when there was none (or claiming failed)."""
        return _run_claimed(self.claim_when_idle, "preview")


def _run_claimed(claim: Callable[[], LightTask | None], what: str) -> bool:
    try:
        task = claim()
    except Exception:  # the database may be briefly unavailable; the loop carries on with jobs
        logger.exception("claiming a light task failed", extra={"task": what})
        return False
    if task is None:
        return False
    task()
    return True
