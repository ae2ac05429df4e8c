"""Pub/Sub consumers for GPU workers: jobs by priority, the dead letter, upload notifications.

How a job message is handled (the job row decides; the message only says "look at job X"):

1. A slot frees up (flow control: at most `concurrency` messages held, one per GPU).
2. `TierScheduler` picks which priority subscription to pull first (ADR 0005); one message is
   pulled synchronously. A message whose `priority` attribute does not match its subscription is
   acknowledged unprocessed: that is what a subscription filter does, and the emulator ignores
   filters.
3. `claim_job_by_id` moves the job QUEUED -> PROCESSING under this worker's lease. When it
   cannot, the row says why: finished, canceled or unknown -> ack (a duplicate costs nothing);
   running under another worker's live lease -> the message waits until that lease would expire;
   a lapsed lease -> stalled-job recovery requeues it and the claim is tried again.
4. While the job runs, `AckDeadlineKeeper` keeps extending the message's ack deadline (capped by
   `max_lease_seconds`), so a long job is not redelivered; if the worker dies, the extensions
   stop and Pub/Sub redelivers to another worker.
5. After the runner has committed the outcome: COMPLETED/FAILED/CANCELED -> ack; back to
   QUEUED (transient failure, back-off in `run_after`) -> the message's deadline is set to the
   back-off (a delayed nack), so each attempt costs one delivery.

After `VE_PUBSUB_MAX_DELIVERIES` deliveries Pub/Sub moves the message to the dead-letter topic;
`DeadLetterConsumer` marks the job FAILED with the reason. `UploadFinalizedConsumer` reads GCS
object-finalize notifications and completes the upload exactly as `POST /videos/{id}/complete`
does, so a job is queued even when the app never calls back.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Protocol

from google.api_core import exceptions as api_exceptions
from google.cloud import pubsub_v1

from video_enhancer.config import Settings
from video_enhancer.db import make_engine, make_session_factory
from video_enhancer.jobs.lifecycle import claim_job_by_id, requeue_expired_leases, retry_job
from video_enhancer.models import TERMINAL_STATUSES, Job, JobStatus
from video_enhancer.observability.metrics import WORKER_BUSY
from video_enhancer.queue.database import ClaimedJob
from video_enhancer.queue.pubsub import (
    PRIORITIES_HIGH_FIRST,
    OutboxRelay,
    SessionFactory,
    make_subscriber,
    tier_subscription,
)
from video_enhancer.queue.pubsub_pull import (
    DEFAULT_MAX_LEASE_SECONDS,
    AckDeadlineKeeper,
    Pulled,
    TierScheduler,
    ack,
    drain_loop,
    job_id_of,
    pull_one,
    redeliver_after,
    seconds_until,
)
from video_enhancer.queue.pubsub_side import DeadLetterConsumer, UploadCompleter, UploadFinalizedConsumer

log = logging.getLogger(__name__)

WORKER_ERROR = "WORKER_ERROR"


class JobRunnerLike(Protocol):
    def run(self, claimed: ClaimedJob) -> Any: ...


# -- the job consumer -------------------------------------------------------------------------


class PubSubJobConsumer:
    def __init__(
        self,
        settings: Settings,
        session_factory: SessionFactory,
        subscriber: pubsub_v1.SubscriberClient,
        runner_factory: Callable[[], JobRunnerLike],
        *,
        worker_id: str,
        concurrency: int = 1,
        ack_deadline_seconds: int = 60,
        max_lease_seconds: float = DEFAULT_MAX_LEASE_SECONDS,
        scheduler: TierScheduler | None = None,
        idle_seconds: float | None = None,
    ) -> None:
        self._settings = settings
        self._session_factory = session_factory
        self._subscriber = subscriber
        self._runner_factory = runner_factory
        self._runners = threading.local()
        self.worker_id = worker_id
        self._concurrency = max(1, concurrency)
        self._slots = threading.Semaphore(self._concurrency)
        self._scheduler = scheduler or TierScheduler()
        self._idle = settings.queue_poll_seconds if idle_seconds is None else idle_seconds
        self.keeper = AckDeadlineKeeper(
            subscriber, deadline_seconds=ack_deadline_seconds, max_lease_seconds=max_lease_seconds
        )
        project = settings.pubsub_project
        self._subscriptions = {
            tier: subscriber.subscription_path(project, tier_subscription(settings, tier))
            for tier in PRIORITIES_HIGH_FIRST
        }

    # The loop

    def run(self, stop: threading.Event) -> None:
        """Pull and run jobs until `stop` is set; running jobs finish before this returns."""
        keeper_stop = threading.Event()
        keeper = threading.Thread(target=self.keeper.run, args=(keeper_stop,), daemon=True)
        keeper.start()
        with ThreadPoolExecutor(self._concurrency, thread_name_prefix="pubsub-job") as pool:
            while not stop.is_set():
                if not self._slots.acquire(timeout=0.5):
                    continue
                message = self._next_message()
                if message is None:
                    self._slots.release()
                    stop.wait(self._idle)
                    continue
                pool.submit(self._handle_in_slot, message)
        keeper_stop.set()
        keeper.join()

    def _next_message(self) -> Pulled | None:
        for tier in self._scheduler.order():
            message = self._pull_matching(tier)
            if message is not None:
                self._scheduler.served(tier)
                return message
            self._scheduler.empty(tier)
        self._scheduler.idle()
        return None

    def _pull_matching(self, tier: int) -> Pulled | None:
        subscription = self._subscriptions[tier]
        while (message := pull_one(self._subscriber, subscription)) is not None:
            if message.attributes.get("priority") == str(tier):
                return message
            # What a subscription filter does server-side (the emulator does not filter).
            ack(self._subscriber, message)
        return None

    def _handle_in_slot(self, message: Pulled) -> None:
        try:
            self.handle(message)
        except Exception:
            log.exception("job message handling failed; redelivering")
            self._safe_redeliver(message, 0)
        finally:
            self._slots.release()

    # One message

    def handle(self, message: Pulled) -> None:
        job_id = job_id_of(message)
        if job_id is None:
            log.error("malformed job message dropped", extra={"attributes": dict(message.attributes)})
            ack(self._subscriber, message)
            return
        claimed = self._claim(job_id, message)
        if claimed is None:
            return
        self.keeper.hold(message)
        try:
            self._run(claimed)
        finally:
            self.keeper.release(message)
        self._settle(job_id, message)

    def _claim(self, job_id: uuid.UUID, message: Pulled) -> ClaimedJob | None:
        lease = self._settings.job_lease_seconds
        claimed = claim_job_by_id(self._session_factory, job_id, self.worker_id, lease)
        if claimed is not None:
            return claimed
        job = self._load(job_id)
        if (
            job is not None
            and job.status == JobStatus.PROCESSING
            and seconds_until(job.lease_expires_at) == 0
        ):
            requeue_expired_leases(self._session_factory)  # the previous owner is gone
            claimed = claim_job_by_id(self._session_factory, job_id, self.worker_id, lease)
            if claimed is not None:
                return claimed
            job = self._load(job_id)
        self._not_claimed(job, message)
        return None

    def _not_claimed(self, job: Job | None, message: Pulled) -> None:
        if job is None or job.status in TERMINAL_STATUSES:
            ack(self._subscriber, message)  # duplicate, finished or canceled: nothing to do
        elif job.status == JobStatus.PROCESSING:
            # Another worker holds it; look again once its lease would have lapsed.
            redeliver_after(self._subscriber, message, seconds_until(job.lease_expires_at) + 1)
        elif job.status == JobStatus.QUEUED:
            redeliver_after(self._subscriber, message, 1)  # lost a race for the claim; retry soon
        else:
            log.warning("message for a job that was never queued", extra={"job_id": str(job.id)})
            ack(self._subscriber, message)

    def _run(self, claimed: ClaimedJob) -> None:
        runner = getattr(self._runners, "runner", None)
        if runner is None:
            runner = self._runners.runner = self._runner_factory()
        try:
            with WORKER_BUSY.track_inprogress():
                runner.run(claimed)
        except Exception as exc:  # the runner records its own failures; this is the safety net
            log.exception("job runner raised", extra={"job_id": str(claimed.job_id)})
            self._retry_after_runner_error(claimed, exc)

    def _retry_after_runner_error(self, claimed: ClaimedJob, exc: Exception) -> None:
        # retry_job counts the retry, or the failure when no attempts are left.
        retry_job(self._session_factory, claimed, WORKER_ERROR, f"{type(exc).__name__}: {exc}"[:500])

    def _settle(self, job_id: uuid.UUID, message: Pulled) -> None:
        """Ack only once the outcome is committed; a requeued job comes back after its back-off."""
        job = self._load(job_id)
        if job is not None and job.status == JobStatus.QUEUED:
            redeliver_after(self._subscriber, message, seconds_until(job.run_after))
        elif job is not None and job.status == JobStatus.PROCESSING and job.lease_owner == self.worker_id:
            redeliver_after(self._subscriber, message, 0)  # the runner left it unfinished
        else:
            ack(self._subscriber, message)

    def _load(self, job_id: uuid.UUID) -> Job | None:
        with self._session_factory() as session:
            return session.get(Job, job_id)

    def _safe_redeliver(self, message: Pulled, seconds: float) -> None:
        try:
            redeliver_after(self._subscriber, message, seconds)
        except api_exceptions.GoogleAPIError:
            log.warning("nack failed; the ack deadline will expire instead")


# -- the process entry point ------------------------------------------------------------------


def default_worker_id() -> str:
    return f"{socket.gethostname()}-{os.getpid()}"


def run_pubsub_worker(
    settings: Settings,
    runner_factory: Callable[[], JobRunnerLike],
    *,
    stop: threading.Event | None = None,
    session_factory: SessionFactory | None = None,
    relay: bool = True,
    complete_upload: UploadCompleter | None = None,
    ack_deadline_seconds: int = 60,
) -> None:
    """A worker process on `VE_QUEUE=pubsub`: job consumer, dead-letter consumer, an outbox relay
    and, given `complete_upload` (the videos domain's `complete_upload_by_key`), the upload
    notifications consumer, until `stop` is set (the caller sets it on SIGTERM)."""
    stop = stop or threading.Event()
    if session_factory is None:
        session_factory = make_session_factory(make_engine(settings.database_url, pool_size=5))
    subscriber = make_subscriber(settings)
    consumer = PubSubJobConsumer(
        settings,
        session_factory,
        subscriber,
        runner_factory,
        worker_id=settings.worker_id or default_worker_id(),
        concurrency=settings.worker_concurrency,
        ack_deadline_seconds=ack_deadline_seconds,
    )
    side = _side_loops(settings, session_factory, subscriber, relay, complete_upload)
    threads = [threading.Thread(target=loop, args=(stop,), daemon=True, name=name) for name, loop in side]
    for thread in threads:
        thread.start()
    try:
        consumer.run(stop)
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=30)


def _side_loops(
    settings: Settings,
    session_factory: SessionFactory,
    subscriber: pubsub_v1.SubscriberClient,
    relay: bool,
    complete_upload: UploadCompleter | None,
) -> list[tuple[str, Callable[[threading.Event], None]]]:
    dead = DeadLetterConsumer(settings, session_factory, subscriber)
    loops: list[tuple[str, Callable[[threading.Event], None]]] = [
        ("pubsub-dead-letter", lambda stop: drain_loop(subscriber, dead.subscription, dead.handle, stop))
    ]
    if relay:
        loops.append(("outbox-relay", OutboxRelay.from_settings(settings, session_factory).run))
    if complete_upload is not None:
        uploads = UploadFinalizedConsumer(settings, subscriber, complete_upload)
        loops.append(
            (
                "upload-notifications",
                lambda stop: drain_loop(subscriber, uploads.subscription, uploads.handle, stop),
            )
        )
    return loops
