"""How long queued jobs have waited for an enhancer no live worker offers (the alert's input).

`ve_queue_enhancer_wait_seconds{enhancer}`: age of the oldest QUEUED job asking for `enhancer`
while no live worker has it loaded (0 otherwise); `ve_enhancer_wait_alert_seconds`: the
threshold `VE_ENHANCER_WAIT_ALERT_SECONDS`, exposed so the alert rule reads it.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import datetime

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from video_enhancer.catalogue.service import offered_enhancers
from video_enhancer.config import Settings
from video_enhancer.enhancers.registry import ENHANCERS
from video_enhancer.models import Job, JobStatus, utcnow

logger = logging.getLogger(__name__)

ENHANCER_WAIT = "ve_queue_enhancer_wait_seconds"
ENHANCER_WAIT_ALERT = "ve_enhancer_wait_alert_seconds"


def enhancer_waits(session: Session, settings: Settings, now: datetime) -> dict[str, float]:
    offered = offered_enhancers(session, settings, now)
    statement = (
        select(Job.enhancer, func.min(Job.queued_at))
        .where(Job.status == JobStatus.QUEUED, Job.enhancer.is_not(None))
        .group_by(Job.enhancer)
    )
    waits = dict.fromkeys(ENHANCERS, 0.0)
    for enhancer, queued_at in session.execute(statement):
        if enhancer is not None and enhancer not in offered and queued_at is not None:
            waits[enhancer] = max(0.0, (now - queued_at).total_seconds())
    return waits


class EnhancerWaitCollector(Collector):
    def __init__(self, engine: Engine, settings: Settings) -> None:
        self._engine = engine
        self._settings = settings

    def describe(self) -> list[GaugeMetricFamily]:
        return list(self._families())

    def collect(self) -> Iterator[GaugeMetricFamily]:
        wait, threshold = self._families()
        threshold.add_metric([], float(self._settings.enhancer_wait_alert_seconds))
        yield threshold
        try:
            with Session(self._engine) as session:
                waits = enhancer_waits(session, self._settings, utcnow())
        except Exception as exc:  # ve_database_up reports the outage
            logger.warning("enhancer wait query failed", extra={"error": type(exc).__name__})
            return
        for enhancer, seconds in waits.items():
            wait.add_metric([enhancer], seconds)
        yield wait

    def _families(self) -> tuple[GaugeMetricFamily, GaugeMetricFamily]:
        return (
            GaugeMetricFamily(
                ENHANCER_WAIT,
                "Seconds the oldest queued job has waited for an enhancer no live worker offers",
                labels=["enhancer"],
            ),
            GaugeMetricFamily(ENHANCER_WAIT_ALERT, "VE_ENHANCER_WAIT_ALERT_SECONDS"),
        )
