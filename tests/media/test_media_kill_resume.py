"""A run killed with SIGKILL mid-way resumes from its last finished segment."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from media.clips import LONG, ClipLibrary
from media.fake_enhancers import CountingEnhancer
from media.readback import assert_resumed_matches, decoded_frames, presentation_times
from video_enhancer.media.encode import EncoderSettings
from video_enhancer.media.pipeline import PipelineConfig, run_pipeline
from video_enhancer.media.probe import probe
from video_enhancer.media.segments import LocalCheckpoint

TESTS = Path(__file__).resolve().parents[1]
SRC = TESTS.parent / "src"
CONFIG = PipelineConfig(max_height=72, segment_seconds=1.0, encoder=EncoderSettings(preset="ultrafast"))

CHILD = """
import sys
from pathlib import Path
from media.fake_enhancers import CountingEnhancer
from video_enhancer.media.encode import EncoderSettings
from video_enhancer.media.pipeline import PipelineConfig, run_pipeline
from video_enhancer.media.probe import probe
from video_enhancer.media.segments import LocalCheckpoint
config = PipelineConfig(max_height=72, segment_seconds=1.0, encoder=EncoderSettings(preset="ultrafast"))
run_pipeline(probe(sys.argv[1]), Path(sys.argv[2]), CountingEnhancer(delay_s=0.1), config,
             checkpoint=LocalCheckpoint(Path(sys.argv[3])))
"""


def _wait_for_segments(directory: Path, count: int, child: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while len(list(directory.glob("*.json"))) < count:
        assert child.poll() is None, child.stderr.read() if child.stderr else ""
        assert time.monotonic() < deadline
        time.sleep(0.05)


def test_killed_run_resumes_without_duplicates(clips: ClipLibrary, tmp_path: Path) -> None:
    clip = clips.get(LONG)
    checkpoint_dir = tmp_path / "checkpoint"
    environment = {**os.environ, "PYTHONPATH": os.pathsep.join([str(SRC), str(TESTS)])}
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(clip.path), str(tmp_path / "out.mp4"), str(checkpoint_dir)],
        env=environment,
        stderr=subprocess.PIPE,
    )
    try:
        _wait_for_segments(checkpoint_dir, 2, child)
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()
    finished = len(list(checkpoint_dir.glob("*.json")))
    assert 2 <= finished < 6 and not (tmp_path / "out.mp4").exists()

    info = probe(clip.path)
    enhancer = CountingEnhancer()
    result = run_pipeline(
        info, tmp_path / "out.mp4", enhancer, CONFIG, checkpoint=LocalCheckpoint(checkpoint_dir)
    )
    assert result.resumed_segments == finished
    assert enhancer.opened_with == [str(8 * finished).encode()]
    run_pipeline(info, tmp_path / "straight.mp4", CountingEnhancer(), CONFIG)
    resumed, straight = decoded_frames(tmp_path / "out.mp4"), decoded_frames(tmp_path / "straight.mp4")
    assert len(resumed) == 48
    assert_resumed_matches(resumed, straight, reused=8 * finished)
    assert presentation_times(tmp_path / "out.mp4") == presentation_times(clip.path)
