"""Segments and checkpoints: what makes a long run resumable.

The video is cut into segments of about ``segment_seconds`` on frame timestamps, so every
frame belongs to exactly one segment. After a segment is encoded, the pipeline hands its
piece, the enhancer's state and some metadata to a ``Checkpoint``. A restarted run asks
``load()`` for the finished segments and continues after the last one of an unbroken run
0, 1, ..., k-1 whose metadata matches the current plan (same input, sizes, enhancer and
encoder); anything else is ignored and recomputed.

A checkpoint implementation must make ``save`` atomic: a segment either is listed by
``load`` with a complete piece, or not at all.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Mapping, Sequence
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


def resumable_prefix(
    finished: Sequence[FinishedSegment], spans: Sequence[SegmentSpan], fingerprint: str
) -> list[FinishedSegment]:
    """The finished segments 0..k-1 that match this plan; the run resumes at segment k."""
    by_index = {f.index: f for f in finished if f.meta.get("fingerprint") == fingerprint}
    prefix: list[FinishedSegment] = []
    for span in spans:
        segment = by_index.get(span.index)
        if (
            segment is None
            or segment.meta.get("start_pts") != span.start_pts
            or not segment.piece_path.is_file()
        ):
            break
        prefix.append(segment)
    return prefix


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
