"""Segments and checkpoints: what makes a long run resumable.

The video is cut into segments of about ``segment_seconds`` on frame timestamps, so every
frame belongs to exactly one segment. After a segment is encoded, the pipeline hands its
piece, the enhancer's state and some metadata to a ``Checkpoint``. A restarted run asks
``load()`` for the finished segments whose metadata matches the current plan (same input,
sizes, enhancer and encoder; anything else is ignored and recomputed) and computes only the
missing ones.

Lanes: the missing segments are run as one or more lanes (``plan_lanes``), each a contiguous
block of segments enhanced as one stream. A lane continues the saved state of the segment just
before it when that segment is finished (exactly as an uninterrupted run would), starts fresh at
frame 0, or otherwise starts cold ``warmup`` frames before its first segment: those frames are
enhanced and discarded, to rebuild a recurrent model's history (the seam of ADR 0009). Several
lanes run at once when the enhancer can batch them: one long video on an idle GPU then fills
the batch by itself.

A checkpoint implementation must make ``save`` atomic: a segment either is listed by
``load`` with a complete piece, or not at all.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from video_enhancer.media.probe import VideoTrack


@dataclass(frozen=True)
class SegmentSpan:
    index: int
    first_frame: int
    end_frame: int
    """One past the last frame (frame numbers in presentation order)."""
    start_pts: int
    end_pts: int
    """Presentation end of the segment: the next segment's start_pts, or the video's end."""

    @property
    def frame_count(self) -> int:
        return self.end_frame - self.first_frame


@dataclass(frozen=True)
class FinishedSegment:
    index: int
    piece_path: Path
    """A local, readable file holding the encoded piece."""
    enhancer_state: bytes
    meta: Mapping[str, Any]


@runtime_checkable
class Checkpoint(Protocol):
    def load(self) -> list[FinishedSegment]:
        """Every segment saved so far (any order; the pipeline validates and sorts)."""
        ...

    def save(self, index: int, piece_path: Path, enhancer_state: bytes, meta: Mapping[str, Any]) -> None:
        """Persist a finished segment. ``piece_path`` may be deleted by the pipeline afterwards."""
        ...


def plan_segments(video: VideoTrack, segment_seconds: float) -> list[SegmentSpan]:
    """Cut at the first frame at or after every multiple of ``segment_seconds``."""
    if segment_seconds <= 0:
        raise ValueError("segment_seconds must be positive")
    pts = video.frame_pts
    length = round(segment_seconds / video.time_base)
    starts = [0]
    boundary = pts[0] + length
    for number, value in enumerate(pts):
        if value >= boundary:
            starts.append(number)
            while boundary <= value:
                boundary += length
    ends = [*starts[1:], len(pts)]
    return [
        SegmentSpan(index, first, end, pts[first], pts[end] if end < len(pts) else video.end_pts)
        for index, (first, end) in enumerate(zip(starts, ends, strict=True))
    ]


def finished_segments(
    finished: Sequence[FinishedSegment], spans: Sequence[SegmentSpan], fingerprint: str
) -> dict[int, FinishedSegment]:
    """The finished segments that match this plan, by index; the run computes only the others."""
    by_index = {f.index: f for f in finished if f.meta.get("fingerprint") == fingerprint}
    return {
        span.index: by_index[span.index]
        for span in spans
        if span.index in by_index
        and by_index[span.index].meta.get("start_pts") == span.start_pts
        and by_index[span.index].piece_path.is_file()
    }


@dataclass(frozen=True)
class Lane:
    """Consecutive missing segments enhanced as one stream."""

    spans: tuple[SegmentSpan, ...]
    resume_from: int | None
    """The finished segment whose saved state this lane continues (None: it has no state)."""
    warmup: int
    """Frames before ``spans[0]`` enhanced and discarded by a lane that starts cold mid-video."""

    @property
    def first_frame(self) -> int:
        """The first frame the lane decodes and enhances (warm-up included)."""
        return self.spans[0].first_frame - self.warmup

    @property
    def end_frame(self) -> int:
        return self.spans[-1].end_frame


def plan_lanes(
    spans: Sequence[SegmentSpan], finished: Collection[int], streams: int, warmup: int
) -> list[Lane]:
    """The missing segments as lanes, ``streams`` of them where there are enough segments.

    Each maximal run of missing segments is at least one lane; the lanes up to ``streams`` go to
    the runs with the most frames per lane, and a run with several lanes is cut at the segment
    boundaries nearest its equal shares of frames (every lane after a cut starts cold, with
    ``warmup`` frames). Lanes come in video order.
    """
    runs: list[list[SegmentSpan]] = []
    for span in spans:
        if span.index in finished:
            continue
        if runs and runs[-1][-1].index == span.index - 1:
            runs[-1].append(span)
        else:
            runs.append([span])
    counts = [1] * len(runs)
    while sum(counts) < streams:
        open_runs = [i for i, run in enumerate(runs) if counts[i] < len(run)]
        if not open_runs:
            break
        counts[max(open_runs, key=lambda i: _frames(runs[i]) / counts[i])] += 1
    blocks = [block for run, count in zip(runs, counts, strict=True) for block in _cut(run, count)]
    return [_lane(block, finished, warmup) for block in blocks]


def _frames(block: Sequence[SegmentSpan]) -> int:
    return block[-1].end_frame - block[0].first_frame


def _cut(run: Sequence[SegmentSpan], count: int) -> list[Sequence[SegmentSpan]]:
    """``run`` in ``count`` blocks of consecutive segments with about equal frames."""
    cuts = [0]
    for k in range(1, count):
        target = run[0].first_frame + k * _frames(run) / count
        choices = range(cuts[-1] + 1, len(run) - (count - k) + 1)
        cuts.append(min(choices, key=lambda j: abs(run[j].first_frame - target)))
    return [run[start:end] for start, end in zip(cuts, [*cuts[1:], len(run)], strict=True)]


def _lane(block: Sequence[SegmentSpan], finished: Collection[int], warmup: int) -> Lane:
    first = block[0]
    if first.index == 0:
        return Lane(tuple(block), None, 0)
    if first.index - 1 in finished:
        return Lane(tuple(block), first.index - 1, 0)
    return Lane(tuple(block), None, min(warmup, first.first_frame))


class LocalCheckpoint:
    """Checkpoints in a local directory: ``<dir>/<index>.mp4``, ``.state`` and ``.json``.

    The JSON file is written last, through a rename, and is what marks a segment finished.
    """

    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)

    def load(self) -> list[FinishedSegment]:
        segments = []
        for meta_path in sorted(self.directory.glob("*.json")):
            index = int(meta_path.stem)
            meta = json.loads(meta_path.read_text())
            state = (self.directory / f"{index:06d}.state").read_bytes()
            segments.append(FinishedSegment(index, self.directory / f"{index:06d}.mp4", state, meta))
        return segments

    def save(self, index: int, piece_path: Path, enhancer_state: bytes, meta: Mapping[str, Any]) -> None:
        stem = self.directory / f"{index:06d}"
        _copy_atomic(piece_path, stem.with_suffix(".mp4"))
        _write_atomic(stem.with_suffix(".state"), enhancer_state)
        _write_atomic(stem.with_suffix(".json"), json.dumps(dict(meta), sort_keys=True).encode())

    def clear(self) -> None:
        shutil.rmtree(self.directory, ignore_errors=True)


def _copy_atomic(source: Path, path: Path) -> None:
    temporary = path.with_name(path.name + ".tmp")
    shutil.copyfile(source, temporary)
    _sync_and_rename(temporary, path)


def _write_atomic(path: Path, data: bytes) -> None:
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_bytes(data)
    _sync_and_rename(temporary, path)


def _sync_and_rename(temporary: Path, path: Path) -> None:
    with open(temporary, "rb") as handle:
        os.fsync(handle.fileno())
    os.replace(temporary, path)
