"""One video split into lanes run at once (a batching enhancer with idle rows), and its resume."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from media.clips import LONG, ClipLibrary
from media.fake_enhancers import CountingEnhancer, ParallelCountingEnhancer
from media.readback import assert_resumed_matches, decoded_frames, presentation_times
from video_enhancer.media.encode import EncoderSettings
from video_enhancer.media.errors import EnhancementFailed, PipelineStopped
from video_enhancer.media.pipeline import PipelineConfig, run_pipeline
from video_enhancer.media.probe import probe
from video_enhancer.media.segments import Lane, LocalCheckpoint, SegmentSpan, plan_lanes
from video_enhancer.media.verify import verify_output

TESTS = Path(__file__).resolve().parents[1]
SRC = TESTS.parent / "src"
# LONG: 48 frames at 8 fps, so six segments of 8 frames.
CONFIG = PipelineConfig(
    max_height=72,
    segment_seconds=1.0,
    encoder=EncoderSettings(preset="ultrafast"),
    max_lanes=3,
    warmup_frames=3,
)


def _spans(count: int, frames: int = 8) -> list[SegmentSpan]:
    return [SegmentSpan(i, i * frames, (i + 1) * frames, i * frames, (i + 1) * frames) for i in range(count)]


def _indices(lanes: list[Lane]) -> list[list[int]]:
    return [[span.index for span in lane.spans] for lane in lanes]


def test_lanes_split_the_missing_segments_into_equal_blocks_started_cold_after_a_warmup() -> None:
    lanes = plan_lanes(_spans(6), finished=set(), streams=3, warmup=3)
    assert _indices(lanes) == [[0, 1], [2, 3], [4, 5]]
    assert [(lane.resume_from, lane.warmup, lane.first_frame) for lane in lanes] == [
        (None, 0, 0),
        (None, 3, 13),
        (None, 3, 29),
    ]
    assert _indices(plan_lanes(_spans(6), set(), streams=1, warmup=3)) == [[0, 1, 2, 3, 4, 5]]
    assert _indices(plan_lanes(_spans(2), set(), streams=8, warmup=3)) == [[0], [1]]
    # a warm-up never reaches before the first frame
    assert plan_lanes(_spans(2, frames=2), set(), streams=2, warmup=9)[1].first_frame == 0


def test_lanes_after_a_crash_continue_the_state_of_the_finished_segment_before_them() -> None:
    lanes = plan_lanes(_spans(6), finished={0, 1, 4}, streams=1, warmup=3)
    assert _indices(lanes) == [[2, 3], [5]]
    assert [(lane.resume_from, lane.warmup) for lane in lanes] == [(1, 0), (4, 0)]
    # with rows to spare, only a new cut starts cold
    lanes = plan_lanes(_spans(6), finished={0, 1, 4}, streams=3, warmup=3)
    assert _indices(lanes) == [[2], [3], [5]]
    assert [(lane.resume_from, lane.warmup) for lane in lanes] == [(1, 0), (None, 3), (4, 0)]


def _straight(clip_path: Path, tmp_path: Path) -> list:
    run_pipeline(probe(clip_path), tmp_path / "straight.mp4", CountingEnhancer(), CONFIG)
    return decoded_frames(tmp_path / "straight.mp4")


def test_a_video_alone_runs_as_lanes_and_joins_into_the_same_video(
    clips: ClipLibrary, tmp_path: Path
) -> None:
    clip = clips.get(LONG)
    info = probe(clip.path)
    enhancer = ParallelCountingEnhancer(streams=3)
    result = run_pipeline(info, tmp_path / "split.mp4", enhancer, CONFIG)

    assert result.segments == 6 and result.frames == 48
    assert enhancer.opened_with == [None] and sorted(enhancer.opened_at) == [16 - 3, 32 - 3]
    assert enhancer.frames_enhanced == 48 + 2 * 3  # two cuts, three warm-up frames each
    assert presentation_times(tmp_path / "split.mp4") == presentation_times(clip.path)
    verify_output(info, tmp_path / "split.mp4", result.sizes.output)
    # Three encoders instead of one: the same pictures up to encoding noise, each in its place.
    assert_resumed_matches(decoded_frames(tmp_path / "split.mp4"), _straight(clip.path, tmp_path), reused=0)


def test_no_split_without_idle_rows_or_when_the_config_allows_one_lane(
    clips: ClipLibrary, tmp_path: Path
) -> None:
    info = probe(clips.get(LONG).path)
    busy = ParallelCountingEnhancer(streams=1)
    run_pipeline(info, tmp_path / "busy.mp4", busy, CONFIG)
    single = ParallelCountingEnhancer(streams=3)
    run_pipeline(info, tmp_path / "single.mp4", single, PipelineConfig(max_height=72, segment_seconds=1.0))
    assert busy.opened_at == single.opened_at == [] and busy.frames_enhanced == single.frames_enhanced == 48


def test_a_stopped_split_run_resumes_only_its_missing_segments(clips: ClipLibrary, tmp_path: Path) -> None:
    clip = clips.get(LONG)
    info = probe(clip.path)
    checkpoint = LocalCheckpoint(tmp_path / "checkpoint")
    asked = 0

    def stop_after_first_boundaries() -> bool:  # the lease is lost once each lane started
        nonlocal asked
        asked += 1
        return asked > 3

    with pytest.raises(PipelineStopped):
        run_pipeline(
            info,
            tmp_path / "out.mp4",
            ParallelCountingEnhancer(),
            CONFIG,
            checkpoint=checkpoint,
            should_stop=stop_after_first_boundaries,
        )
    saved = sorted(s.index for s in checkpoint.load())
    assert saved == [0, 2, 4] and not (tmp_path / "out.mp4").exists()  # each lane's first segment

    enhancer = ParallelCountingEnhancer(streams=1)  # resumed on a busy worker: one lane at a time
    result = run_pipeline(info, tmp_path / "out.mp4", enhancer, CONFIG, checkpoint=checkpoint)
    assert result.resumed_segments == 3 and enhancer.frames_enhanced == 3 * 8
    assert enhancer.opened_with == [b"8", b"24", b"40"] and enhancer.opened_at == []
    assert presentation_times(tmp_path / "out.mp4") == presentation_times(clip.path)
    assert_resumed_matches(decoded_frames(tmp_path / "out.mp4"), _straight(clip.path, tmp_path), reused=0)


def test_a_failing_lane_stops_the_others_and_the_run_fails(clips: ClipLibrary, tmp_path: Path) -> None:
    info = probe(clips.get(LONG).path)
    before = threading.active_count()
    with pytest.raises(EnhancementFailed) as caught:
        run_pipeline(info, tmp_path / "out.mp4", ParallelCountingEnhancer(fail_at=20), CONFIG)
    assert "simulated" in caught.value.detail
    assert threading.active_count() == before and not (tmp_path / "out.mp4").exists()


CHILD = """
import sys
from pathlib import Path
from media.fake_enhancers import ParallelCountingEnhancer
from video_enhancer.media.encode import EncoderSettings
from video_enhancer.media.pipeline import PipelineConfig, run_pipeline
from video_enhancer.media.probe import probe
from video_enhancer.media.segments import LocalCheckpoint
config = PipelineConfig(max_height=72, segment_seconds=1.0, encoder=EncoderSettings(preset="ultrafast"),
                        max_lanes=3, warmup_frames=3)
run_pipeline(probe(sys.argv[1]), Path(sys.argv[2]), ParallelCountingEnhancer(delay_s=0.15), config,
             checkpoint=LocalCheckpoint(Path(sys.argv[3])))
"""


def test_a_killed_split_run_resumes_with_only_the_missing_segments(
    clips: ClipLibrary, tmp_path: Path
) -> None:
    clip = clips.get(LONG)
    checkpoint_dir = tmp_path / "checkpoint"
    environment = {**os.environ, "PYTHONPATH": os.pathsep.join([str(SRC), str(TESTS)])}
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(clip.path), str(tmp_path / "out.mp4"), str(checkpoint_dir)],
        env=environment,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 60
        while len(list(checkpoint_dir.glob("*.json"))) < 2:
            assert child.poll() is None, child.stderr.read() if child.stderr else ""
            assert time.monotonic() < deadline
            time.sleep(0.05)
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()
    saved = sorted(int(p.stem) for p in checkpoint_dir.glob("*.json"))
    assert 2 <= len(saved) < 6 and not (tmp_path / "out.mp4").exists()

    enhancer = ParallelCountingEnhancer(streams=3)
    info = probe(clip.path)
    result = run_pipeline(
        info, tmp_path / "out.mp4", enhancer, CONFIG, checkpoint=LocalCheckpoint(checkpoint_dir)
    )
    assert result.resumed_segments == len(saved)
    missing = 6 - len(saved)
    warmups = 3 * len(enhancer.opened_at)
    assert enhancer.frames_enhanced == 8 * missing + warmups  # nothing finished was redone
    assert presentation_times(tmp_path / "out.mp4") == presentation_times(clip.path)
    verify_output(info, tmp_path / "out.mp4", result.sizes.output)
    assert len(decoded_frames(tmp_path / "out.mp4")) == 48
