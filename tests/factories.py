"""Rows written straight to the database, for tests of code that reads them.

Two families: `make_user`/`make_job` give a PRO user and an uploaded job ready to queue (queue,
worker and cloud tests); `add_user`/`add_job`/`add_usage`/`finished_job` give rows in any state
with chosen timestamps (operations and admin tests). The service never imports this module.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from video_enhancer.auth.tokens import create_access_token
from video_enhancer.billing.plans import limits_for
from video_enhancer.config import Settings
from video_enhancer.models import Job, JobStatus, Plan, UsageEntry, User, Video, utcnow


def make_user(session: Session, plan: Plan = Plan.PRO) -> User:
    return add_user(session, plan=plan)


def make_job(
    session: Session,
    user: User,
    *,
    status: JobStatus = JobStatus.UPLOADED,
    claimed_seconds: float = 5.0,
    minutes_held: int = 1,
    storage_path: str | None = None,
    max_attempts: int = 3,
) -> Job:
    limits = limits_for(user.plan)
    video_id = uuid.uuid4()
    video = Video(
        id=video_id,
        user_id=user.id,
        original_filename="clip.mp4",
        content_type="video/mp4",
        size_bytes=1000,
        claimed_duration_seconds=claimed_seconds,
        storage_path=storage_path or f"users/{user.id}/videos/{video_id}/source.mp4",
        upload_expires_at=utcnow() + timedelta(hours=1),
    )
    session.add(video)
    session.flush()
    job = Job(
        user_id=user.id,
        video_id=video.id,
        status=status,
        priority=limits.queue_priority,
        minutes_held=minutes_held,
        max_duration_seconds=limits.max_duration_seconds,
        max_output_height=limits.max_output_height,
        max_attempts=max_attempts,
        request_id=f"req-{uuid.uuid4().hex[:8]}",
    )
    session.add(job)
    session.flush()
    return job


def add_user(
    session: Session, *, email: str | None = None, plan: Plan = Plan.FREE, is_admin: bool = False
) -> User:
    user = User(
        email=email or f"user-{uuid.uuid4().hex[:12]}@example.com",
        password_hash="not-a-real-hash",
        plan=plan,
        is_admin=is_admin,
    )
    session.add(user)
    session.flush()
    return user


def add_job(
    session: Session,
    user: User,
    status: JobStatus,
    *,
    priority: int = 0,
    queued_at: datetime | None = None,
    started_at: datetime | None = None,
    completed_at: datetime | None = None,
    request_id: str | None = None,
    **columns: Any,
) -> Job:
    """A job and its video for `user`; `columns` sets any other job column (queue_rank, ...)."""
    video = Video(
        user_id=user.id,
        original_filename="clip.mp4",
        content_type="video/mp4",
        size_bytes=1000,
        claimed_duration_seconds=10.0,
        storage_path=f"users/{user.id}/videos/{uuid.uuid4()}/source",
    )
    session.add(video)
    session.flush()
    job = Job(
        user_id=user.id,
        video_id=video.id,
        status=status,
        priority=priority,
        queued_at=queued_at,
        started_at=started_at,
        completed_at=completed_at,
        request_id=request_id,
        **columns,
    )
    session.add(job)
    session.flush()
    return job


def add_usage(session: Session, user: User, job: Job, minutes: int, created_at: datetime) -> UsageEntry:
    entry = UsageEntry(
        user_id=user.id,
        job_id=job.id,
        minutes=minutes,
        measured_duration_seconds=minutes * 60.0,
        cycle_start=created_at - timedelta(days=1),
        created_at=created_at,
    )
    session.add(entry)
    session.flush()
    return entry


def finished_job(
    session: Session, user: User, status: JobStatus, seconds: float, now: datetime | None = None
) -> Job:
    """A job that ran for `seconds` and ended an hour before `now` in `status`."""
    completed = (now or utcnow()) - timedelta(hours=1)
    return add_job(
        session, user, status, started_at=completed - timedelta(seconds=seconds), completed_at=completed
    )


def bearer(user: User, settings: Settings) -> dict[str, str]:
    """Authorization headers for a user made here (no password: the token is signed directly)."""
    return {"Authorization": f"Bearer {create_access_token(user.id, settings)}"}


# --- Real-ESRGAN weight files ---------------------------------------------------------------
# The published files cannot be downloaded here, so tests write files with the same layout:
# the same top-level key (`params_ema` for x4plus, `params` for the compact networks) and the
# same state-dict key names, holding random weights of the real architectures.

_RRDB_NAMES = {"model.0": "conv_first", "model.1.sub.23": "conv_body", "model.3": "conv_up1"}
_RRDB_NAMES |= {"model.6": "conv_up2", "model.8": "conv_hr", "model.10": "conv_last"}
COMPACT_CONVS = {"realesr-general-x4v3": 32, "realesr-animevideov3": 16}


def _published_rrdb_key(key: str) -> str:
    """`model.1.sub.4.RDB2.conv3.0.weight` -> `body.4.rdb2.conv3.weight` (the Real-ESRGAN names)."""
    layer, _, kind = key.rpartition(".")
    if layer in _RRDB_NAMES:
        return f"{_RRDB_NAMES[layer]}.{kind}"
    _, _, _, block, rdb, conv, _ = layer.split(".")
    return f"body.{block}.{rdb.lower()}.{conv}.{kind}"


def write_realesrgan_weights(path: str | Path, model: str, *, seed: int = 0) -> Path:
    """Random weights of `model`'s real network, saved like the published `.pth` file."""
    import torch
    from spandrel.architectures.Compact import Compact
    from spandrel.architectures.ESRGAN import ESRGAN

    torch.manual_seed(seed)
    if model == "realesrgan-x4plus":
        network = ESRGAN(in_nc=3, out_nc=3, num_filters=64, num_blocks=23, scale=4)
        state = {_published_rrdb_key(key): value for key, value in network.state_dict().items()}
        payload = {"params_ema": state}
    else:
        compact = Compact(num_in_ch=3, num_out_ch=3, num_feat=64, num_conv=COMPACT_CONVS[model], upscale=4)
        payload = {"params": dict(compact.state_dict())}
    target = Path(path)
    torch.save(payload, target)
    return target
