"""Job scratch folders: removed after the job, and after a killed worker by the next one."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from video_enhancer.worker.scratch import LOCK_NAME, UNLOCKED_GRACE_S, job_scratch, remove_abandoned

SRC = Path(__file__).resolve().parents[2] / "src"
HOLDER = """
import sys, time
from pathlib import Path
from video_enhancer.worker.scratch import job_scratch
with job_scratch(Path(sys.argv[1]), sys.argv[2]) as folder:
    (folder / "source.mp4").write_bytes(b"x" * 1000)
    print("holding", flush=True)
    time.sleep(60)
"""


@contextmanager
def _holder(root: Path, name: str) -> Iterator[subprocess.Popen[str]]:
    """Another worker process inside ``job_scratch`` for job ``name``."""
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(root), name], env=env, stdout=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "holding"
        yield proc
    finally:
        proc.kill()
        proc.wait(timeout=30)


def test_the_folder_exists_while_the_job_runs_and_not_after(tmp_path: Path) -> None:
    with job_scratch(tmp_path, "job-1") as folder:
        assert folder == tmp_path / "job-1" and (folder / LOCK_NAME).exists()
        (folder / "piece.mp4").write_bytes(b"data")
    assert not folder.exists()


def test_the_folder_is_removed_when_the_job_fails(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError), job_scratch(tmp_path, "job-2"):
        raise RuntimeError("the job failed")
    assert list(tmp_path.iterdir()) == []


def test_a_killed_workers_folder_is_removed_and_a_live_ones_kept(tmp_path: Path) -> None:
    with _holder(tmp_path, "killed") as doomed:
        doomed.send_signal(signal.SIGKILL)
        doomed.wait(timeout=30)
        assert (tmp_path / "killed" / "source.mp4").exists()  # SIGKILL left it behind
        with _holder(tmp_path, "running"):
            assert remove_abandoned(tmp_path) == ["killed"]
            assert (tmp_path / "running" / "source.mp4").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["running"]


def test_a_folder_without_a_lock_is_removed_only_once_old(tmp_path: Path) -> None:
    (tmp_path / "unlocked").mkdir()
    assert remove_abandoned(tmp_path) == []  # its owner may be about to lock it
    assert remove_abandoned(tmp_path, now=time.time() + UNLOCKED_GRACE_S + 1) == ["unlocked"]


def test_a_missing_root_is_not_an_error(tmp_path: Path) -> None:
    assert remove_abandoned(tmp_path / "absent") == []
