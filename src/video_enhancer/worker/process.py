"""`video-enhancer worker`: the long-running worker process.

One process loads the enhancer once and runs `concurrency` job loops (threads; one job at a time
per GPU), plus:

* a lease heartbeat per running job (inside `JobRunner.run`);
* a maintenance thread: stalled-job recovery (`requeue_expired_leases`), expiry of uploads
  never finished (`videos.service.expire_stale_uploads`) and pruning of expired refresh tokens
  and old login failures (`auth.service.prune_expired_credentials`), deletion of the uploads of
  failed and canceled jobs past `VE_RAW_RETENTION_HOURS` (`videos.retention`), and of idempotency keys
  past their 24 hours (`videos.idempotency.prune_expired_keys`);
* a mail thread delivering the mail outbox (`auth.mail.run_mail_sender`);
* the metrics/health HTTP port (`observability.worker_http`), ready once the model is loaded.

At start it removes the job scratch folders that killed workers left on this host
(`worker.scratch`).

SIGTERM/SIGINT set the stop event: idle loops exit at once, a running job finishes its current
segment and is handed back to the queue (QUEUED, lease cleared, attempt not counted), then the
process exits 0. Idle loops wake on PostgreSQL NOTIFY, or poll every `VE_QUEUE_POLL_SECONDS`.

With `VE_QUEUE=pubsub` the claim loops are replaced by the Pub/Sub consumer
(`queue.pubsub_worker.run_pubsub_worker`): it pulls from the subscriptions of the enhancers this
worker has loaded, claims by id and runs the job with that enhancer's `JobRunner`.

Either way posters and previews (`worker.light_tasks`) are claimed from the database: a poster
ahead of paid work, a preview only when no job is waiting.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from types import FrameType
from typing import Any

from sqlalchemy import Engine

from video_enhancer.auth.mail import run_mail_sender
from video_enhancer.config import Settings, get_settings
from video_enhancer.db import make_engine, make_session_factory, session_scope
from video_enhancer.enhancers.base import Enhancer
from video_enhancer.enhancers.registry import get_enhancer
from video_enhancer.enhancers.weights import PUBLISHED_WEIGHTS
from video_enhancer.jobs.lifecycle import claim_next_job, requeue_expired_leases
from video_enhancer.logging import configure_logging
from video_enhancer.models import utcnow
from video_enhancer.observability.metrics import WORKER_BUSY, WORKER_READY
from video_enhancer.queue.wakeup import make_wakeup
from video_enhancer.storage.base import Storage
from video_enhancer.storage.factory import make_storage
from video_enhancer.worker.enhancer_report import EnhancerReporter
from video_enhancer.worker.light_tasks import LightTasks
from video_enhancer.worker.runner import JobRunner
from video_enhancer.worker.scratch import remove_abandoned

logger = logging.getLogger(__name__)

# A database outage must not spin the loop; wait this long before trying again.
ERROR_BACKOFF_SECONDS = 5.0


def default_worker_id() -> str:
    return f"{socket.gethostname()}-{os.getpid()}"


def enhancer_options(settings: Settings, name: str | None = None) -> dict[str, Any]:
    """Constructor arguments for enhancer `name` (default: the configured one; lanczos takes none)."""
    name = name or settings.resolved_enhancer
    if name in PUBLISHED_WEIGHTS:
        return settings.realesrgan_options(name)
    if name != "stream-diffvsr":
        return {}
    return settings.stream_diffvsr_options().constructor_kwargs()


def load_enhancer(settings: Settings) -> Enhancer:
    return get_enhancer(settings.resolved_enhancer, **enhancer_options(settings))


def load_enhancers(settings: Settings) -> dict[str, Enhancer]:
    """Every enhancer `VE_ENHANCERS` names (one for `auto`), by name."""
    return {
        name: get_enhancer(name, **enhancer_options(settings, name)) for name in settings.worker_enhancers()
    }


def maintenance_interval(settings: Settings) -> float:
    """Often enough that an expired lease is noticed within about half a lease."""
    return max(0.5, min(30.0, settings.job_lease_seconds / 2))


@dataclass
class WorkerProcess:
    """The worker's threads around one loaded enhancer; `run()` blocks until `stop()`."""

    settings: Settings
    concurrency: int = 1
    engine: Engine | None = None
    storage: Storage | None = None
    enhancer: Enhancer | None = None
    worker_id: str = field(default_factory=default_worker_id)
    stop_event: threading.Event = field(default_factory=threading.Event)
    ready: bool = False
    jobs_run: int = 0
    http_server: Any = field(default=None, init=False)
    reporters: list[EnhancerReporter] = field(default_factory=list, init=False)
    exit_status: int = field(default=0, init=False)

    def stop(self) -> None:
        self.stop_event.set()

    def run(self) -> int:
        engine = self.engine or make_engine(self.settings.database_url, pool_size=self.concurrency + 2)
        session_factory = make_session_factory(engine)
        storage = self.storage or make_storage(self.settings)
        http = self.http_server = self._start_http_server()
        # Job folders left by a worker that was killed (SIGKILL, out of memory) on this host.
        remove_abandoned(self.settings.worker_scratch_dir)
        try:
            enhancers = (
                {self.enhancer.name: self.enhancer} if self.enhancer else load_enhancers(self.settings)
            )
            runners = {
                name: JobRunner(self.settings, session_factory, storage, enhancer, shutdown=self.stop_event)
                for name, enhancer in enhancers.items()
            }
            self.reporters = [
                EnhancerReporter(session_factory, self.worker_id, e) for e in enhancers.values()
            ]
            self._heartbeat()
            self._set_ready(True)
            logger.info(
                "worker ready",
                extra={
                    "worker": self.worker_id,
                    "enhancers": list(enhancers),
                    "concurrency": self.concurrency,
                },
            )
            threads = self._start_consumers(runners, session_factory, storage)
            threads.append(self._thread("maintenance", self._maintenance_loop, session_factory, storage))
            threads.append(self._thread("webhooks", self._webhook_loop, session_factory))
            self._thread("mail", run_mail_sender, session_factory, self.settings, self.stop_event)
            for thread in threads:
                thread.join()
        finally:
            self._set_ready(False)
            if self.reporters:
                self.reporters[0].forget()
            if http is not None:
                http.stop()
            if self.engine is None:
                engine.dispose()
        logger.info("worker stopped", extra={"worker": self.worker_id, "jobs_run": self.jobs_run})
        return self.exit_status

    def _start_consumers(
        self, runners: dict[str, JobRunner], session_factory: Any, storage: Storage
    ) -> list[threading.Thread]:
        """Database queue: `concurrency` claim loops. Pub/Sub: the cloud transport's consumer."""
        if self.settings.queue == "pubsub":
            return [self._thread("pubsub", self._pubsub_loop, runners, session_factory, storage)]
        return [
            self._thread(f"job-loop-{n}", self._job_loop, runners, f"{self.worker_id}/{n}")
            for n in range(self.concurrency)
        ]

    def _pubsub_loop(self, runners: dict[str, JobRunner], session_factory: Any, storage: Storage) -> None:
        """The consumer pulls only the subscriptions of the loaded enhancers (`VE_ENHANCERS=auto`:
        the one `VE_ENHANCER` selects), so a job never runs with an enhancer it did not ask for."""
        from video_enhancer.queue.pubsub_worker import run_pubsub_worker
        from video_enhancer.videos.service import complete_upload_by_key

        settings = self.settings.model_copy(
            update={"worker_concurrency": self.concurrency, "worker_id": self.worker_id}
        )
        try:
            run_pubsub_worker(
                settings,
                {name: _shared(runner) for name, runner in runners.items()},
                stop=self.stop_event,
                session_factory=session_factory,
                complete_upload=complete_upload_by_key(session_factory, storage, settings),
                light_work=LightTasks(runners, self.worker_id, enhancers=list(runners)),
            )
        except Exception:
            logger.exception("the Pub/Sub consumer stopped with an error")
            self.exit_status = 1
        finally:
            self.stop_event.set()  # no consumer, no worker: let the orchestrator restart the process

    def _heartbeat(self) -> None:
        for reporter in self.reporters:
            reporter.heartbeat()

    def _thread(self, name: str, target: Any, *args: Any) -> threading.Thread:
        thread = threading.Thread(target=target, args=args, name=name, daemon=True)
        thread.start()
        return thread

    def _set_ready(self, ready: bool) -> None:
        self.ready = ready
        WORKER_READY.set(1 if ready else 0)

    def _start_http_server(self) -> Any:
        if self.settings.worker_metrics_port < 0:  # a negative port turns the server off
            return None
        from video_enhancer.observability.worker_http import start_worker_http_server

        try:
            return start_worker_http_server(
                self.settings.worker_metrics_port, lambda: self.ready, host=self.settings.worker_metrics_host
            )
        except OSError as exc:
            # Typically a second worker process on the host with the same port.
            raise SystemExit(
                f"The worker's metrics port {self.settings.worker_metrics_port} is not available ({exc}); "
                "give each worker process its own VE_WORKER_METRICS_PORT, or -1 to turn it off."
            ) from exc

    def _job_loop(self, runners: dict[str, JobRunner], lease_owner: str) -> None:
        wakeup = make_wakeup(self.settings.database_url, self.stop_event)
        try:
            while not self.stop_event.is_set():
                if not self._run_one(runners, lease_owner):
                    wakeup.wait(self.settings.queue_poll_seconds)
        finally:
            wakeup.close()

    def _claim_filter(self, runners: dict[str, JobRunner]) -> list[str] | None:
        """`VE_ENHANCERS=auto` (or an enhancer handed in): any job; else only jobs it has loaded."""
        if self.enhancer is not None or self.settings.claims_any_enhancer:
            return None
        return list(runners)

    def _run_one(self, runners: dict[str, JobRunner], lease_owner: str) -> bool:
        """Claim and run one job with the enhancer it asks for; False when there was none to claim.

        Light work first: a completed upload's poster (a second or two) runs ahead of paid work;
        a preview only when no job is waiting."""
        first = next(iter(runners.values()))
        light = LightTasks(runners, lease_owner, self._claim_filter(runners))
        if light.run_ahead():
            return True
        try:
            claimed = claim_next_job(
                first.session_factory,
                lease_owner,
                self.settings.job_lease_seconds,
                enhancers=self._claim_filter(runners),
            )
        except Exception:
            logger.exception("claiming a job failed")
            self.stop_event.wait(ERROR_BACKOFF_SECONDS)
            return True
        if claimed is None:
            return light.run_when_idle()
        runner = runners.get(claimed.enhancer or "", first)
        WORKER_BUSY.inc()
        try:
            outcome = runner.run(claimed)
            logger.info(
                "job attempt finished", extra={"job": str(claimed.job_id), "outcome": outcome.outcome}
            )
        finally:
            WORKER_BUSY.dec()
            self.jobs_run += 1
        for reporter in self.reporters:
            reporter.job_finished(claimed.job_id)
        return True

    def _maintenance_loop(self, session_factory: Any, storage: Storage) -> None:
        interval = maintenance_interval(self.settings)
        while not self.stop_event.wait(interval):
            self._heartbeat()
            try:
                recovered = requeue_expired_leases(session_factory)
                if recovered.requeued or recovered.failed or recovered.canceled:
                    logger.warning("recovered stalled jobs", extra={"recovered": recovered})
                self._expire_uploads(session_factory, storage)
                self._delete_expired_raw_uploads(session_factory, storage)
                self._prune_credentials(session_factory)
                self._prune_events(session_factory)
                self._prune_idempotency_keys(session_factory)
            except Exception:
                logger.exception("worker maintenance failed")

    def _expire_uploads(self, session_factory: Any, storage: Storage) -> None:
        from video_enhancer.videos.service import expire_stale_uploads

        with session_scope(session_factory) as session:
            expired = expire_stale_uploads(session, self.settings, utcnow(), storage)
        if expired:  # counted by the lifecycle once committed
            logger.info("expired unfinished uploads", extra={"count": expired})

    def _webhook_loop(self, session_factory: Any) -> None:
        from video_enhancer.webhooks.dispatcher import WebhookDispatcher

        WebhookDispatcher(session_factory, self.settings).run(self.stop_event)

    def _prune_events(self, session_factory: Any) -> None:
        from video_enhancer.events.service import prune_events

        with session_scope(session_factory) as session:
            pruned = prune_events(session, utcnow(), self.settings.event_retention_days)
        if pruned:
            logger.info("pruned the event log", extra={"count": pruned})

    def _delete_expired_raw_uploads(self, session_factory: Any, storage: Storage) -> None:
        from video_enhancer.videos.retention import delete_expired_raw_uploads

        with session_scope(session_factory) as session:
            deleted = delete_expired_raw_uploads(session, self.settings, storage, utcnow())
        if deleted:
            logger.info("deleted uploads past their retention", extra={"count": deleted})

    def _prune_credentials(self, session_factory: Any) -> None:
        from video_enhancer.auth.service import prune_expired_credentials

        with session_scope(session_factory) as session:
            pruned = prune_expired_credentials(session, self.settings)
        if pruned:
            logger.info("pruned expired refresh tokens", extra={"count": pruned})

    def _prune_idempotency_keys(self, session_factory: Any) -> None:
        from video_enhancer.videos.idempotency import prune_expired_keys

        with session_scope(session_factory) as session:
            prune_expired_keys(session)


def _shared(runner: JobRunner) -> Callable[[], JobRunner]:
    """A factory handing out the one runner of an enhancer (it holds no per-job state)."""
    return lambda: runner


def install_signal_handlers(worker: WorkerProcess) -> None:
    def handle(signum: int, _frame: FrameType | None) -> None:
        logger.info("stopping: finishing the current segment", extra={"signal": signal.Signals(signum).name})
        worker.stop()

    signal.signal(signal.SIGTERM, handle)
    signal.signal(signal.SIGINT, handle)


def run_worker_process(concurrency: int | None = None) -> int:
    """Entry point of `video-enhancer worker` (exit status 0 after a clean stop)."""
    settings = get_settings()
    configure_logging(settings.log_level)
    worker = WorkerProcess(
        settings,
        concurrency=concurrency or settings.job_slots,
        worker_id=settings.worker_id or default_worker_id(),
    )
    install_signal_handlers(worker)
    return worker.run()
