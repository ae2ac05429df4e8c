"""Job progress on the job row, written at most about once a second.

Every write is conditional on this worker still owning the job, so a write that changes no row
tells the worker its lease is gone: `lost` is set and the job loop stops.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from video_enhancer.media.pipeline import Progress
from video_enhancer.models import JobStage
from video_enhancer.observability.metrics import FRAMES_PER_SECOND, JOB_STAGE_SECONDS
from video_enhancer.queue.database import ClaimedJob, SessionFactory, record_progress

MIN_INTERVAL_SECONDS = 1.0
# `job.progress` events: at most one a second per job (docs/events.md).
MIN_EVENT_INTERVAL_SECONDS = 1.0
# The pipeline's percent covers enhancing; 100 is written only by the completion itself.
MAX_RUNNING_PERCENT = 99.0


class ProgressWriter:
    def __init__(self, session_factory: SessionFactory, claimed: ClaimedJob, lost: threading.Event) -> None:
        self._session_factory = session_factory
        self._claimed = claimed
        self.lost = lost
        self._last_write = 0.0
        self._last_event = float("-inf")
        self._stage: str | None = None
        self._stage_started = time.monotonic()
        self.frames_done = 0

    def stage(self, stage: JobStage, **values: Any) -> None:
        """Enter a stage (always written) and time the previous one."""
        self._close_stage()
        self._stage = stage.value
        self._stage_started = time.monotonic()
        self._write({"stage": stage.value, **values}, force=True)

    def pipeline(self, progress: Progress) -> None:
        """The media pipeline's callback (already about once a second)."""
        if progress.stage != self._stage:
            self._close_stage()
            self._stage, self._stage_started = progress.stage, time.monotonic()
        self.frames_done = progress.frames_done
        FRAMES_PER_SECOND.set(progress.fps)
        self._write(
            {
                "stage": progress.stage,
                "progress_percent": min(MAX_RUNNING_PERCENT, progress.percent),
                "frames_done": progress.frames_done,
                "frames_total": progress.frames_total,
                "fps": progress.fps,
                "eta_seconds": progress.eta_s,
            },
            force=progress.stage != JobStage.ENHANCING.value,
        )

    def finish(self) -> None:
        self._close_stage()
        FRAMES_PER_SECOND.set(0)

    def _close_stage(self) -> None:
        if self._stage is not None:
            JOB_STAGE_SECONDS.labels(stage=self._stage).observe(time.monotonic() - self._stage_started)
            self._stage = None

    def _write(self, values: dict[str, Any], force: bool) -> None:
        now = time.monotonic()
        if not force and now - self._last_write < MIN_INTERVAL_SECONDS:
            return
        self._last_write = now
        event = now - self._last_event >= MIN_EVENT_INTERVAL_SECONDS
        if event:
            self._last_event = now
        if not record_progress(self._session_factory, self._claimed, values, event=event):
            self.lost.set()
