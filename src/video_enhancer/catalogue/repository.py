"""Rows of `worker_enhancers`: written by workers, read by `GET /enhancers`."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from video_enhancer.models import WorkerEnhancer


def report_loaded(session: Session, worker_id: str, enhancer: str, device: str | None, now: datetime) -> None:
    """Insert or refresh this worker's row for `enhancer` (the heartbeat)."""
    row = session.get(WorkerEnhancer, (worker_id, enhancer))
    if row is None:
        session.add(WorkerEnhancer(worker_id=worker_id, enhancer=enhancer, device=device, seen_at=now))
    else:
        row.device, row.seen_at = device, now
    session.flush()


def record_speed(session: Session, worker_id: str, enhancer: str, frames_per_second_720p: float) -> None:
    row = session.get(WorkerEnhancer, (worker_id, enhancer))
    if row is not None:
        row.frames_per_second_720p = frames_per_second_720p
        session.flush()


def live_rows(session: Session, since: datetime) -> list[WorkerEnhancer]:
    return list(session.scalars(select(WorkerEnhancer).where(WorkerEnhancer.seen_at >= since)))


def forget_worker(session: Session, worker_id: str) -> None:
    """A worker that stops cleanly takes its rows with it (a killed one ages out)."""
    session.execute(delete(WorkerEnhancer).where(WorkerEnhancer.worker_id == worker_id))
