"""Pub/Sub consumers for GPU workers: jobs by priority, the dead letter, upload notifications.

How a job message is handled (the job row decides; the message only says "look at job X"):

1. A slot frees up (flow control: at most `concurrency` messages held, one per GPU). Light work
   the worker's database holds comes first (`LightWork.claim_ahead`: a poster); otherwise
2. `TierScheduler` picks which priority to pull first (ADR 0005); within it the subscriptions of
   the enhancers this worker has loaded are tried in turn, one message pulled synchronously. A
   message whose `priority` or `enhancer` attribute does not match its subscription is
   acknowledged unprocessed: that is what a subscription filter does, and the emulator ignores
   filters. When no message is waiting and no job runs here, `LightWork.claim_when_idle` may
   fill the slot (a preview), so unpaid work never takes a GPU from paid work.
3. The job must ask for an enhancer this worker has: otherwise the message is given back
   untouched (never run with another enhancer). `claim_job_by_id` moves the job QUEUED ->
   PROCESSING under this worker's lease. When it cannot, the row says why: finished, canceled or
   unknown -> ack (a duplicate costs nothing); running under another worker's live lease -> the
   message waits until that lease would expire; a lapsed lease -> stalled-job recovery requeues
   it and the claim is tried again.
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

import functools
import itertools
import logging
import os
import socket
import threading
import uuid
from collections.abc import Callable, Mapping
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
    job_subscription,
    make_subscriber,
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
from video_enhancer.queue.service import job_enhancer

log = logging.getLogger(__name__)

WORKER_ERROR = "WORKER_ERROR"
# A message routed to a worker without its enhancer comes back after this long.
WRONG_ENHANCER_DELAY_SECONDS = 60


class JobRunnerLike(Protocol):
    def run(self, claimed: ClaimedJob) -> Any: ...


RunnerFactories = Mapping[str, Callable[[], JobRunnerLike]]
"""A runner factory per enhancer the worker has loaded, by enhancer name."""

SlotTask = Callable[[], object]


class LightWork(Protocol):
    """Unpaid work kept in the database (posters, previews), run in a job slot.

    The queue does not know what it is: the worker process hands it in. Each method claims one
    task and returns what runs it, or None when there is none.
    """

    def claim_ahead(self) -> SlotTask | None:
        """Work that goes before the next job message (short, a second or two)."""
        ...

    def claim_when_idle(self) -> SlotTask | None:
        """Work that runs only when no job message is waiting and no job runs on this worker."""
        ...


# -- the job consumer -------------------------------------------------------------------------


class PubSubJobConsumer:
    def __init__(
        self,
        settings: Settings,
        session_factory: SessionFactory,
        subscriber: pubsub_v1.SubscriberClient,
        runner_factories: RunnerFactories,
        *,
        worker_id: str,
        concurrency: int = 1,
        ack_deadline_seconds: int = 60,
        max_lease_seconds: float = DEFAULT_MAX_LEASE_SECONDS,
        scheduler: TierScheduler | None = None,
        idle_seconds: float | None = None,
        light_work: LightWork | None = None,
    ) -> None:
        if not runner_factories:
            raise ValueError("a Pub/Sub worker needs at least one enhancer")
        self._settings = settings
        self._session_factory = session_factory
        self._subscriber = subscriber
        self._runner_factories = dict(runner_factories)
        self._runners = threading.local()
        self._light_work = light_work
        self.worker_id = worker_id
        self._concurrency = max(1, concurrency)
        self._slots = threading.Semaphore(self._concurrency)
        self._jobs_in_slots = 0
        self._jobs_lock = threading.Lock()
        self._scheduler = scheduler or TierScheduler()
        self._idle = settings.queue_poll_seconds if idle_seconds is None else idle_seconds
        self.keeper = AckDeadlineKeeper(
            subscriber, deadline_seconds=ack_deadline_seconds, max_lease_seconds=max_lease_seconds
        )
        project = settings.pubsub_project
        self._subscriptions = {
            tier: [
                (enhancer, subscriber.subscription_path(project, job_subscription(settings, enhancer, tier)))
                for enhancer in self._runner_factories
            ]
            for tier in PRIORITIES_HIGH_FIRST
        }
        self._turn = itertools.count()

    @property
    def enhancers(self) -> list[str]:
        return list(self._runner_factories)

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
                task = self._next_task()
                if task is None:
                    self._slots.release()
                    stop.wait(self._idle)
                    continue
                pool.submit(self._in_slot, task)
        keeper_stop.set()
        keeper.join()

    def _next_task(self) -> SlotTask | None:
        """What the free slot runs: light work ahead of jobs, a job, or light work when idle."""
        ahead = self._claim_light(idle=False)
        if ahead is not None:
            return ahead
        message = self._next_message()
        if message is not None:
            with self._jobs_lock:
                self._jobs_in_slots += 1
            return functools.partial(self._handle_job_in_slot, message)
        with self._jobs_lock:
            busy = self._jobs_in_slots > 0
        return None if busy else self._claim_light(idle=True)

    def _claim_light(self, *, idle: bool) -> SlotTask | None:
        work = self._light_work
        if work is None:
            return None
        try:
            return work.claim_when_idle() if idle else work.claim_ahead()
        except Exception:  # the database may be briefly unavailable; jobs still run
            log.exception("claiming light work failed", extra={"idle": idle})
            return None

    def _next_message(self) -> Pulled | None:
        for tier in self._scheduler.order():
            message = self._pull_tier(tier)
            if message is not None:
                self._scheduler.served(tier)
                return message
            self._scheduler.empty(tier)
        self._scheduler.idle()
        return None

    def _pull_tier(self, tier: int) -> Pulled | None:
        """The tier's subscriptions, one per loaded enhancer, starting with a different one each
        time so that no enhancer's jobs wait behind another's."""
        subscriptions = self._subscriptions[tier]
        first = next(self._turn) % len(subscriptions)
        for enhancer, subscription in subscriptions[first:] + subscriptions[:first]:
            message = self._pull_matching(subscription, tier, enhancer)
            if message is not None:
                return message
        return None

    def _pull_matching(self, subscription: str, tier: int, enhancer: str) -> Pulled | None:
        while (message := pull_one(self._subscriber, subscription)) is not None:
            attributes = message.attributes
            if attributes.get("priority") == str(tier) and attributes.get("enhancer") == enhancer:
                return message
            # What a subscription filter does server-side (the emulator does not filter).
            ack(self._subscriber, message)
        return None

    def _in_slot(self, task: SlotTask) -> None:
        try:
            task()
        except Exception:
            log.exception("work in a job slot failed")
        finally:
            self._slots.release()

    def _handle_job_in_slot(self, message: Pulled) -> None:
        try:
            self.handle(message)
        except Exception:
            log.exception("job message handling failed; redelivering")
            self._safe_redeliver(message, 0)
        finally:
            with self._jobs_lock:
                self._jobs_in_slots -= 1

    # One message

    def handle(self, message: Pulled) -> None:
        job_id = job_id_of(message)
        if job_id is None:
            log.error("malformed job message dropped", extra={"attributes": dict(message.attributes)})
            ack(self._subscriber, message)
            return
        enhancer = self._enhancer_of(job_id)
        if enhancer is not None and enhancer not in self._runner_factories:
            # Routed here against the job row (a message written by hand, a stale attribute):
            # never run it with another enhancer. Given back; a worker that has it, or the dead
            # letter, settles it.
            log.error(
                "job message for an enhancer this worker has not loaded",
                extra={"job_id": str(job_id), "enhancer": enhancer, "loaded": self.enhancers},
            )
            redeliver_after(self._subscriber, message, WRONG_ENHANCER_DELAY_SECONDS)
            return
        claimed = self._claim(job_id, message)
        if claimed is None:
            return
        self.keeper.hold(message)
        try:
            self._run(claimed, enhancer or self.enhancers[0])
        finally:
            self.keeper.release(message)
        self._settle(job_id, message)

    def _enhancer_of(self, job_id: uuid.UUID) -> str | None:
        """The enhancer the job row asks for; None for an unknown or finished job (the claim
        fails and the message is acknowledged)."""
        job = self._load(job_id)
        if job is None or job.status in TERMINAL_STATUSES:
            return None
        return job_enhancer(job, self._settings)

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

    def _runner(self, enhancer: str) -> JobRunnerLike:
        """One runner per slot thread and enhancer, made on first use."""
        runners: dict[str, JobRunnerLike] | None = getattr(self._runners, "by_enhancer", None)
        if runners is None:
            runners = self._runners.by_enhancer = {}
        if enhancer not in runners:
            runners[enhancer] = self._runner_factories[enhancer]()
        return runners[enhancer]

    def _run(self, claimed: ClaimedJob, enhancer: str) -> None:
        runner = self._runner(enhancer)
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
    runner_factories: RunnerFactories,
    *,
    stop: threading.Event | None = None,
    session_factory: SessionFactory | None = None,
    relay: bool = True,
    complete_upload: UploadCompleter | None = None,
    light_work: LightWork | None = None,
    ack_deadline_seconds: int = 60,
) -> None:
    """A worker process on `VE_QUEUE=pubsub`: job consumer (the subscriptions of the enhancers in
    `runner_factories`, and `light_work` between jobs), dead-letter consumer, an outbox relay
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
        runner_factories,
        worker_id=settings.worker_id or default_worker_id(),
        concurrency=settings.worker_concurrency,
        ack_deadline_seconds=ack_deadline_seconds,
        light_work=light_work,
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
