"""The worker tells the catalogue what it has loaded (every maintenance pass) and how fast it ran.

Never fatal: a failed report is logged and the next pass tries again; the catalogue only shows
the enhancer as unavailable until then.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass

from video_enhancer.catalogue import repository
from video_enhancer.catalogue.service import speed_at_720p
from video_enhancer.db import session_scope
from video_enhancer.enhancers.base import Enhancer
from video_enhancer.models import Job, JobStatus, utcnow
from video_enhancer.queue.database import SessionFactory

logger = logging.getLogger(__name__)


@dataclass
class EnhancerReporter:
    session_factory: SessionFactory
    worker_id: str
    enhancer: Enhancer

    @property
    def device(self) -> str | None:
        device = getattr(self.enhancer, "device", None)
        return None if device is None else str(device)

    def heartbeat(self) -> None:
        try:
            with session_scope(self.session_factory) as session:
                repository.report_loaded(session, self.worker_id, self.enhancer.name, self.device, utcnow())
        except Exception:
            logger.exception("reporting the loaded enhancer failed")

    def job_finished(self, job_id: uuid.UUID) -> None:
        """Record the speed of a completed job run with this worker's enhancer."""
        try:
            with session_scope(self.session_factory) as session:
                job = session.get(Job, job_id)
                if job is None or job.status != JobStatus.COMPLETED or job.enhancer != self.enhancer.name:
                    return
                speed = speed_at_720p(job)
                if speed is not None:
                    repository.record_speed(session, self.worker_id, self.enhancer.name, speed)
        except Exception:
            logger.exception("recording the enhancer's speed failed")

    def forget(self) -> None:
        try:
            with session_scope(self.session_factory) as session:
                repository.forget_worker(session, self.worker_id)
        except Exception:
            logger.exception("removing the worker's enhancer rows failed")
