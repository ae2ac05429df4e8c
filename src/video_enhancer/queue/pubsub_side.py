"""The side consumers of a worker: dead-lettered job messages and GCS upload notifications.

* `DeadLetterConsumer`: a job message Pub/Sub gave up on (after `VE_PUBSUB_MAX_DELIVERIES`)
  marks its job FAILED with `DELIVERY_ATTEMPTS_EXHAUSTED`, hold released, unless a worker still
  holds a live lease on it.
* `UploadFinalizedConsumer`: an OBJECT_FINALIZE notification of the raw bucket completes the
  upload exactly as `POST /videos/{id}/complete` does, so the job is queued even when the app
  never calls back. It is handed the videos domain's completer: the queue does not import it.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Callable

from google.cloud import pubsub_v1

from video_enhancer.config import Settings
from video_enhancer.errors import AppError, ServiceUnavailable
from video_enhancer.jobs.lifecycle import dead_letter
from video_enhancer.models import Job, JobStatus
from video_enhancer.queue.pubsub import SessionFactory, dead_letter_subscription
from video_enhancer.queue.pubsub_pull import Pulled, ack, job_id_of, redeliver_after, seconds_until

log = logging.getLogger(__name__)


# -- the dead letter --------------------------------------------------------------------------


class DeadLetterConsumer:
    """Marks the job of a dead-lettered message FAILED with the reason, then acks it."""

    def __init__(
        self, settings: Settings, session_factory: SessionFactory, subscriber: pubsub_v1.SubscriberClient
    ) -> None:
        self._session_factory = session_factory
        self._subscriber = subscriber
        self._max_deliveries = settings.pubsub_max_deliveries
        self.subscription = subscriber.subscription_path(
            settings.pubsub_project, dead_letter_subscription(settings)
        )

    def handle(self, message: Pulled) -> None:
        job_id = job_id_of(message)
        job = self._load(job_id) if job_id else None
        if job is not None and job.status == JobStatus.PROCESSING and seconds_until(job.lease_expires_at) > 0:
            # A worker is still on it; decide once its lease is over (it may well complete).
            redeliver_after(self._subscriber, message, seconds_until(job.lease_expires_at) + 1)
            return
        if job_id is not None:
            self._fail(job_id, self._reason(message))
        ack(self._subscriber, message)

    def _reason(self, message: Pulled) -> str:
        count = message.attributes.get("CloudPubSubDeadLetterSourceDeliveryCount", str(self._max_deliveries))
        return f"The job could not be processed after {count} delivery attempts."

    def _fail(self, job_id: uuid.UUID, reason: str) -> None:
        # A redelivered dead letter finds the job final already: the lifecycle changes nothing.
        dead_letter(self._session_factory, job_id, reason)

    def _load(self, job_id: uuid.UUID) -> Job | None:
        with self._session_factory() as session:
            return session.get(Job, job_id)


# -- upload notifications ---------------------------------------------------------------------

UploadCompleter = Callable[[str], None]
"""Finishes the upload stored under a raw key (`videos.service.complete_upload_by_key`)."""


class UploadFinalizedConsumer:
    """Reads GCS OBJECT_FINALIZE notifications on the raw bucket and queues the uploaded job."""

    def __init__(
        self,
        settings: Settings,
        subscriber: pubsub_v1.SubscriberClient,
        complete_upload: UploadCompleter,
    ) -> None:
        self._subscriber = subscriber
        self._complete = complete_upload
        self._raw_bucket = settings.raw_bucket
        self.subscription = subscriber.subscription_path(
            settings.pubsub_project, settings.pubsub_upload_notifications_subscription
        )

    def handle(self, message: Pulled) -> None:
        key = self._raw_object(message)
        if key is None:
            ack(self._subscriber, message)
            return
        try:
            self._complete(key)
        except ServiceUnavailable:
            redeliver_after(self._subscriber, message, 10)  # storage or database down: later
            return
        except AppError as exc:
            # Not expected, already queued, or the wrong size: the app's /complete call reports
            # it; a re-upload produces a new notification.
            log.info("upload notification not applied", extra={"key": key, "code": exc.code})
        ack(self._subscriber, message)

    def _raw_object(self, message: Pulled) -> str | None:
        if message.attributes.get("eventType", "OBJECT_FINALIZE") != "OBJECT_FINALIZE":
            return None
        try:
            payload = json.loads(message.data.decode("utf-8"))
        except ValueError:
            payload = {}
        bucket = message.attributes.get("bucketId") or payload.get("bucket")
        name = message.attributes.get("objectId") or payload.get("name")
        return str(name) if bucket == self._raw_bucket and name else None
