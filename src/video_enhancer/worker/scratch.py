"""Per-job scratch folders that a killed worker cannot leak.

A job's folder (``<scratch root>/<job id>/``) holds its download, segment pieces and output,
up to a few GB for a long video. A clean run removes it at the end; a worker killed by the
OOM killer or SIGKILL cannot. So each running job holds an exclusive ``flock`` on the
folder's ``.lock`` file, which the kernel releases when the process dies however it dies,
and a starting worker removes every folder whose lock it can take: nobody is using it. This
holds with several worker processes sharing one scratch root on a host.
"""

from __future__ import annotations

import fcntl
import logging
import os
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

logger = logging.getLogger(__name__)

LOCK_NAME = ".lock"
UNLOCKED_GRACE_S = 3600.0
"""A folder without a lock file (its worker died between creating it and locking it, or an
older version made it) is removed only once it is this old."""


@contextmanager
def job_scratch(root: Path, name: str) -> Iterator[Path]:
    """The job's scratch folder, locked while the block runs and removed after it."""
    folder = root / name
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / LOCK_NAME, "a") as lock:
        # Blocks only if another live process runs the same job here, which a lease prevents.
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield folder
        finally:
            shutil.rmtree(folder, ignore_errors=True)


def remove_abandoned(root: Path, now: float | None = None) -> list[str]:
    """Remove the job folders under ``root`` that no live process holds; returns their names."""
    now = time.time() if now is None else now
    removed = []
    try:
        folders = [entry for entry in root.iterdir() if entry.is_dir()]
    except FileNotFoundError:
        return []
    for folder in folders:
        if _remove_if_abandoned(folder, now):
            removed.append(folder.name)
    if removed:
        logger.info("removed abandoned scratch folders", extra={"folders": len(removed)})
    return removed


def _remove_if_abandoned(folder: Path, now: float) -> bool:
    lock_path = folder / LOCK_NAME
    try:
        descriptor = os.open(lock_path, os.O_RDONLY)
    except FileNotFoundError:
        try:
            old = now - folder.stat().st_mtime > UNLOCKED_GRACE_S
        except FileNotFoundError:
            return False  # removed meanwhile by its owner
        if old:
            shutil.rmtree(folder, ignore_errors=True)
        return old
    try:
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False  # a live process is working in it
        shutil.rmtree(folder, ignore_errors=True)  # still holding the lock
        return True
    finally:
        os.close(descriptor)
