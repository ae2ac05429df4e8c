"""One video split into segments that run as parallel streams, each warmed up before its cut.

A segment started cold has no previous frame, so its first frames differ from the unsplit
run (the seam). Each segment's stream therefore starts ``warmup`` frames before its segment:
those frames are enhanced and discarded, and only build up the state. The noise stays the
unsplit run's: a segment's generator is advanced to the draw of the first frame it enhances,
so with ``warmup`` reaching back to frame 0 the split run equals the unsplit one exactly, and
what remains at a cut with a shorter warm-up is the missing history alone.

:func:`seam` measures that difference frame by frame after each cut.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from torch import Tensor

from .errors import InputError
from .pipeline import StreamDiffVSRPipeline


@dataclass(frozen=True)
class Segment:
    """Frames ``start`` to ``stop - 1`` are this segment's output; it begins at ``first``."""

    start: int
    stop: int
    first: int
    """First frame the stream enhances: ``start - warmup``, or 0."""


def plan_segments(frame_count: int, segment_frames: int, warmup: int) -> list[Segment]:
    """Consecutive segments of ``segment_frames`` (the last may be shorter)."""
    if frame_count < 1 or segment_frames < 1 or warmup < 0:
        raise InputError(
            f"need frame_count >= 1, segment_frames >= 1, warmup >= 0; got {frame_count}, "
            f"{segment_frames}, {warmup}"
        )
    return [
        Segment(start, min(start + segment_frames, frame_count), max(0, start - warmup))
        for start in range(0, frame_count, segment_frames)
    ]


def upscale_split(
    pipeline: StreamDiffVSRPipeline,
    frames: Sequence[Tensor],
    segments: Sequence[Segment],
    seed: int,
    max_batch: int = 8,
) -> list[Tensor]:
    """The outputs of ``frames`` with every segment a stream of its own, batched together."""
    height, width = frames[0].shape[-2:]
    states = [pipeline.new_state_at(seed, segment.first, height, width) for segment in segments]
    cursors = [segment.first for segment in segments]
    outputs: dict[int, Tensor] = {}
    while active := [i for i, segment in enumerate(segments) if cursors[i] < segment.stop]:
        for chunk in (active[k : k + max_batch] for k in range(0, len(active), max_batch)):
            results = pipeline.upscale_batch([frames[cursors[i]] for i in chunk], [states[i] for i in chunk])
            for i, result in zip(chunk, results, strict=True):
                if cursors[i] >= segments[i].start:
                    outputs[cursors[i]] = result
                cursors[i] += 1
    return [outputs[t] for t in range(len(frames))]


def seam(unsplit: Sequence[Tensor], split: Sequence[Tensor], segments: Sequence[Segment]) -> list[float]:
    """Mean |difference| at each offset after a cut (0 = the first frame of a segment), averaged
    over the cuts; the first segment has no cut and is left out."""
    cuts = list(segments[1:])
    length = min(segment.stop - segment.start for segment in cuts) if cuts else 0
    return [
        sum(float((unsplit[c.start + k] - split[c.start + k]).abs().mean()) for c in cuts) / len(cuts)
        for k in range(length)
    ]
