"""Interlaced video: detection (stream flags checked against the picture) and bwdif deinterlacing.

Detection: the decoder's per-frame ``interlaced_frame`` flag says what the stream claims. The
first ``SAMPLE_FRAMES`` frames also go through FFmpeg's ``idet`` filter and a comb measure of
our own (how much each line differs from its neighbours, the other field, against lines two
apart, its own field). A stream flagged interlaced whose pictures are clearly progressive
(``idet`` finds almost no combing) is treated as progressive; a stream flagged progressive is
deinterlaced only when ``idet`` and the comb measure both see combing (``idet`` alone misreads
some sharp synthetic progressive patterns as combed). The field order comes from ``idet`` when it
is decisive, else from the stream.

Deinterlacing: ``bwdif`` (motion adaptive) through PyAV's filter graph, one frame per field
("field" rate: 50/60 p from 50/60 i) or one per frame ("frame" rate).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction
from typing import Literal

import av
import av.filter
import numpy as np

FieldOrder = Literal["tff", "bff"]
DeinterlaceRate = Literal["field", "frame"]

SAMPLE_FRAMES = 60
# idet counts, over the sampled frames, needed before its verdict overrides the stream's flags.
DECISIVE_FRAMES = 8
DECISIVE_SHARE = 2 / 3
# Inter-field over intra-field line difference above which a picture looks combed.
COMB_RATIO = 1.0
COMB_EVERY = 4
"""The comb measure looks at every 4th sampled frame, in a window of at most COMB_WINDOW lines."""
COMB_WINDOW = 256


@dataclass
class InterlaceSampler:
    """Collects the evidence from the decoded frames of a probe; ``verdict`` decides."""

    time_base: Fraction
    stream_order: FieldOrder | None = None
    """The field order the stream declares, if any."""
    flagged: int = 0
    frames: int = 0
    combs: list[float] = field(default_factory=list)
    _graph: av.filter.Graph | None = None
    _idet: dict[str, float] = field(default_factory=dict)
    _broken: bool = False

    def add(self, frame: av.VideoFrame) -> None:
        self.frames += 1
        self.flagged += bool(frame.interlaced_frame)
        if self.frames <= SAMPLE_FRAMES:
            self._run_idet(frame)
            if self.frames % COMB_EVERY == 1:
                self.combs.append(comb_ratio(frame))

    def verdict(self) -> FieldOrder | None:
        """The field order to deinterlace with, or None for progressive video."""
        tff, bff, progressive = (self._idet.get(k, 0.0) for k in ("tff", "bff", "progressive"))
        determined = tff + bff + progressive
        decisive = determined >= min(DECISIVE_FRAMES, self.frames)
        idet_interlaced = decisive and tff + bff >= DECISIVE_SHARE * determined
        idet_progressive = decisive and progressive >= DECISIVE_SHARE * determined
        flagged = self.frames > 0 and self.flagged * 2 > self.frames
        combed = bool(self.combs) and float(np.median(self.combs)) > COMB_RATIO
        if (flagged and not idet_progressive) or (idet_interlaced and combed):
            if idet_interlaced:
                return "tff" if tff >= bff else "bff"
            return self.stream_order or "tff"
        return None

    def _run_idet(self, frame: av.VideoFrame) -> None:
        if self._broken:
            return
        try:
            if self._graph is None:
                self._graph = _graph(frame, self.time_base, "idet")
            self._graph.push(frame)
            for out in _pull_all(self._graph):
                self._idet = {
                    key.rsplit(".", 1)[-1]: float(value)
                    for key, value in (out.metadata or {}).items()
                    if key.startswith("lavfi.idet.multiple.") and not key.endswith("current_frame")
                }
        except (av.FFmpegError, ValueError):
            self._broken = True  # a picture idet cannot take: the flags decide alone


def comb_ratio(frame: av.VideoFrame) -> float:
    """Mean |2 y[i] - y[i-1] - y[i+1]| over mean |2 y[i] - y[i-2] - y[i+2]| of the luma plane."""
    luma = _luma_window(frame).astype(np.float32)
    if luma.shape[0] < 6:
        return 0.0
    inter = float(np.abs(2 * luma[2:-2] - luma[1:-3] - luma[3:-1]).mean())
    intra = float(np.abs(2 * luma[2:-2] - luma[:-4] - luma[4:]).mean())
    return inter / (intra + 1e-3)


def _luma_window(frame: av.VideoFrame) -> np.ndarray:
    """Up to COMB_WINDOW consecutive lines from the middle of the luma plane (8-bit YUV is read
    in place; other formats are converted)."""
    top = max(0, (frame.height - COMB_WINDOW) // 2)
    name = frame.format.name
    if name.startswith(("yuv", "yuvj")) and not name.endswith(("le", "be")):
        plane = frame.planes[0]
        rows = np.frombuffer(memoryview(plane), dtype=np.uint8).reshape(-1, plane.line_size)
        return rows[top : top + COMB_WINDOW, : frame.width]
    return frame.to_ndarray(format="gray")[top : top + COMB_WINDOW]


def stream_field_order(stream: av.VideoStream) -> FieldOrder | None:
    """FFmpeg's AVFieldOrder of the stream: 2 TT / 4 TB are top first, 3 BB / 5 BT bottom first."""
    order = int(stream.codec_context.field_order or 0)
    return "tff" if order in (2, 4) else "bff" if order in (3, 5) else None


def _graph(frame: av.VideoFrame, time_base: Fraction, description: str) -> av.filter.Graph:
    graph = av.filter.Graph()
    source = graph.add_buffer(
        width=frame.width, height=frame.height, format=frame.format, time_base=time_base
    )
    node = graph.add(*description.split("=", 1)) if "=" in description else graph.add(description)
    sink = graph.add("buffersink")
    source.link_to(node)
    node.link_to(sink)
    graph.configure()
    return graph


def _pull_all(graph: av.filter.Graph) -> list[av.VideoFrame]:
    frames: list[av.VideoFrame] = []
    while True:
        try:
            frame = graph.pull()
        except (av.BlockingIOError, av.EOFError):
            return frames
        if isinstance(frame, av.VideoFrame):
            frames.append(frame)


class Deinterlacer:
    """bwdif over decoded frames; output frames carry pts in ``time_base / 2``."""

    def __init__(self, time_base: Fraction, order: FieldOrder, rate: DeinterlaceRate) -> None:
        self._time_base = time_base
        mode = "send_field" if rate == "field" else "send_frame"
        parity = "tff" if order == "tff" else "bff"
        self._description = f"bwdif=mode={mode}:parity={parity}:deint=all"
        self._graph: av.filter.Graph | None = None

    def push(self, frame: av.VideoFrame) -> list[av.VideoFrame]:
        if self._graph is None:
            self._graph = _graph(frame, self._time_base, self._description)
        self._graph.push(frame)
        return _pull_all(self._graph)

    def flush(self) -> list[av.VideoFrame]:
        if self._graph is None:
            return []
        self._graph.push(None)
        return _pull_all(self._graph)


def field_timeline(pts: list[int], end_pts: int, rate: DeinterlaceRate) -> tuple[list[int], int]:
    """The deinterlaced frames' pts (in half the source time base) and the new end, as bwdif sets them.

    Field rate: each frame gives its first field at its own time and its second half-way to the
    next frame (the last one extrapolates the previous interval).
    """
    if rate == "frame" or len(pts) < 2:
        return [2 * p for p in pts], 2 * end_pts
    following = [*pts[1:], 2 * pts[-1] - pts[-2]]
    fields = [value for p, n in zip(pts, following, strict=True) for value in (2 * p, p + n)]
    return fields, max(2 * end_pts, fields[-1] + 1)
