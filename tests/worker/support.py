"""Shared by the worker and end-to-end tests: queued jobs over real clips, slow enhancers."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from sqlalchemy.orm import Session, sessionmaker

from factories import make_job, make_user
from video_enhancer.config import Settings
from video_enhancer.enhancers.base import EnhancerSession, Frame, Size
from video_enhancer.enhancers.lanczos import LanczosEnhancer
from video_enhancer.jobs.lifecycle import claim_next_job, enqueue_job
from video_enhancer.models import Job, Plan, Video
from video_enhancer.queue.database import ClaimedJob
from video_enhancer.storage.base import Storage

Factory = sessionmaker[Session]


def queue_file(
    session_factory: Factory,
    storage: Storage,
    settings: Settings,
    source: Path,
    *,
    plan: Plan = Plan.PRO,
    claimed_seconds: float = 2.0,
    minutes_held: int = 1,
    max_attempts: int = 3,
) -> Job:
    """A user, a video whose raw object is `source`, and its QUEUED job."""
    with session_factory() as session:
        user = make_user(session, plan)
        job = make_job(
            session,
            user,
            claimed_seconds=claimed_seconds,
            minutes_held=minutes_held,
            max_attempts=max_attempts,
        )
        video_key = f"users/{user.id}/videos/{job.video_id}/source{source.suffix}"
        video = session.get(Video, job.video_id)
        assert video is not None
        video.storage_path = video_key
        storage.put_file("raw", video_key, source)
        enqueue_job(session, job, settings)
        session.commit()
        return job


def claim(session_factory: Factory, worker_id: str = "test-worker", lease_seconds: float = 60) -> ClaimedJob:
    claimed = claim_next_job(session_factory, worker_id, lease_seconds)
    assert claimed is not None, "no job to claim"
    return claimed


class _HookedSession:
    def __init__(self, inner: EnhancerSession, on_frame: Callable[[int], None], delay_s: float) -> None:
        self._inner = inner
        self._on_frame = on_frame
        self._delay_s = delay_s
        self.count = 0

    def enhance(self, frame: Frame) -> Frame:
        self.count += 1
        self._on_frame(self.count)
        if self._delay_s:
            time.sleep(self._delay_s)
        return self._inner.enhance(frame)

    def state(self) -> bytes:
        return self._inner.state()

    def close(self) -> None:
        self._inner.close()


class HookedLanczos:
    """The real lanczos enhancer (same name, so checkpoints match) with a per-frame hook and delay."""

    name = "lanczos"
    native_scale: int | None = None

    def __init__(self, on_frame: Callable[[int], None] | None = None, delay_s: float = 0.0) -> None:
        self._inner = LanczosEnhancer()
        self._on_frame = on_frame or (lambda _n: None)
        self._delay_s = delay_s
        self.frames_seen = 0

    def open_session(self, in_size: Size, out_size: Size, state: bytes | None = None) -> EnhancerSession:
        def counted(n: int) -> None:
            self.frames_seen += 1
            self._on_frame(self.frames_seen)

        return _HookedSession(self._inner.open_session(in_size, out_size, state), counted, self._delay_s)
