"""A video split into warmed-up segments run as parallel streams, against the unsplit run."""

from __future__ import annotations

import pytest
import torch

from stream_diffvsr.errors import InputError
from stream_diffvsr.pipeline import StreamDiffVSRPipeline
from stream_diffvsr.segments import Segment, plan_segments, seam, upscale_split
from stream_diffvsr.testing import random_frames

TOLERANCE = 1e-4


def test_plan_segments_cover_the_video_with_warmups() -> None:
    assert plan_segments(7, 3, warmup=2) == [Segment(0, 3, 0), Segment(3, 6, 1), Segment(6, 7, 4)]
    assert plan_segments(4, 4, warmup=9) == [Segment(0, 4, 0)]
    with pytest.raises(InputError):
        plan_segments(4, 0, warmup=1)


def test_a_warmup_back_to_frame_zero_makes_the_split_run_equal_the_unsplit_one(
    pipeline: StreamDiffVSRPipeline,
) -> None:
    frames = random_frames(6, seed=3)
    state = pipeline.new_state(seed=4)
    unsplit = [pipeline.upscale_frame(frame, state).clone() for frame in frames]
    split = upscale_split(pipeline, frames, plan_segments(6, 2, warmup=6), seed=4)
    assert max(float((a - b).abs().max()) for a, b in zip(unsplit, split, strict=True)) <= TOLERANCE
    assert seam(unsplit, split, plan_segments(6, 2, warmup=6)) == pytest.approx([0.0, 0.0], abs=1e-5)


def test_cold_segments_show_a_seam_only_after_their_cuts(pipeline: StreamDiffVSRPipeline) -> None:
    frames = random_frames(6, seed=3)
    state = pipeline.new_state(seed=4)
    unsplit = [pipeline.upscale_frame(frame, state).clone() for frame in frames]
    segments = plan_segments(6, 3, warmup=0)
    split = upscale_split(pipeline, frames, segments, seed=4, max_batch=1)
    assert all(torch.allclose(a, b, atol=TOLERANCE) for a, b in zip(unsplit[:3], split[:3], strict=True))
    measured = seam(unsplit, split, segments)
    assert len(measured) == 3 and measured[0] > 1e-3  # a cold start differs at the cut
