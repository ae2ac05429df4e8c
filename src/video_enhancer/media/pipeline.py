"""Decode -> enhance -> encode as one streaming pipeline.

Four threads joined by bounded queues: a decoder thread, an enhancer thread, a thread that
converts the enhanced RGB frames to the encoder's input, and the caller's thread, which
encodes. They overlap (FFmpeg, numpy, Pillow and torch release the GIL in their heavy parts)
and memory is bounded by the queue sizes, whatever the length of the video. Frames stay in
memory; nothing is written to disk except encoded pieces.

Steps of ``run_pipeline``:
1. plan sizes and segments, check the encoder exists;
2. ask the checkpoint which segments are already done, resume after them;
3. stream the remaining segments, saving each piece and the enhancer state;
4. join all pieces without re-encoding and add the source audio once.
"""

from __future__ import annotations

import hashlib
import json
import os
import queue
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import numpy as np

from video_enhancer.enhancers.base import Enhancer, EnhancerError, EnhancerSession, Frame
from video_enhancer.media.decode import iter_frames
from video_enhancer.media.encode import (
    EncoderSettings,
    OutputConverter,
    PieceSpan,
    SegmentedEncoder,
    check_encoder,
)
from video_enhancer.media.errors import (
    DecodeFailed,
    EncodeFailed,
    EnhancementFailed,
    MediaError,
    PipelineStopped,
)
from video_enhancer.media.join import Piece, join_pieces
from video_enhancer.media.probe import MediaInfo
from video_enhancer.media.segments import Checkpoint, SegmentSpan, plan_segments, resumable_prefix
from video_enhancer.media.sizing import SizePlan, plan_sizes

PROGRESS_INTERVAL_S = 1.0
_POLL_S = 0.2


@dataclass(frozen=True)
class PipelineConfig:
    max_height: int = 1080
    """The plan's maximum output height (720 or 1080)."""
    scale: float = 4.0
    """Upscaling factor cap: output height is at most scale x input height."""
    segment_seconds: float = 4.0
    encoder: EncoderSettings = field(default_factory=EncoderSettings)
    queue_size: int = 8
    """Frames buffered between stages; bounds memory."""


@dataclass(frozen=True)
class Progress:
    stage: str
    """"enhancing" while frames flow, "encoding" while the pieces are joined."""
    percent: float
    frames_done: int
    frames_total: int
    fps: float
    eta_s: float | None


ProgressCallback = Callable[[Progress], None]


@dataclass(frozen=True)
class PipelineResult:
    output: Path
    sizes: SizePlan
    enhancer: str
    frames: int
    segments: int
    resumed_segments: int
    """Segments taken from the checkpoint instead of being computed in this run."""


def run_pipeline(
    info: MediaInfo,
    output: Path,
    enhancer: Enhancer,
    config: PipelineConfig = PipelineConfig(),
    *,
    checkpoint: Checkpoint | None = None,
    work_dir: Path | None = None,
    progress: ProgressCallback | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> PipelineResult:
    """Enhance the probed video ``info`` into ``output`` (MP4). See the module docstring."""
    sizes = plan_sizes(
        (info.video.width, info.video.height), config.max_height, enhancer.native_scale, config.scale
    )
    check_encoder(config.encoder)
    spans = plan_segments(info.video, config.segment_seconds)
    fingerprint = plan_fingerprint(info, sizes, enhancer, config)
    done = resumable_prefix(checkpoint.load(), spans, fingerprint) if checkpoint else []
    reporter = _Reporter(progress, info.video.frame_count, sum(s.frame_count for s in spans[: len(done)]))
    with tempfile.TemporaryDirectory(prefix="enhance-", dir=work_dir or output.parent) as scratch:
        run = _SegmentRun(info, sizes, enhancer, config, Path(scratch), checkpoint, fingerprint, reporter)
        new_pieces = run.process(spans[len(done) :], done[-1].enhancer_state if done else None, should_stop)
        pieces = [Piece(d.piece_path, spans[d.index].start_pts) for d in done] + new_pieces
        reporter.report("encoding", force=True)
        _join_atomically(info, pieces, output)
    return PipelineResult(output, sizes, enhancer.name, info.video.frame_count, len(spans), len(done))


def plan_fingerprint(info: MediaInfo, sizes: SizePlan, enhancer: Enhancer, config: PipelineConfig) -> str:
    """Checkpoints are reused only by a run that would produce exactly the same pieces."""
    facts: dict[str, Any] = {
        "input": [info.size_bytes, info.video.frame_count, info.video.first_pts, info.video.end_pts],
        "sizes": asdict(sizes),
        "enhancer": enhancer.name,
        "encoder": asdict(config.encoder),
        "segment_seconds": config.segment_seconds,
    }
    return hashlib.sha256(json.dumps(facts, sort_keys=True).encode()).hexdigest()[:32]


def _join_atomically(info: MediaInfo, pieces: Sequence[Piece], output: Path) -> None:
    partial = output.with_name(output.name + ".partial")
    try:
        join_pieces(info, pieces, partial)
        os.replace(partial, output)
    finally:
        partial.unlink(missing_ok=True)


class _Reporter:
    """Calls the progress callback at most once per PROGRESS_INTERVAL_S."""

    def __init__(self, callback: ProgressCallback | None, total: int, already_done: int) -> None:
        self._callback = callback
        self._total = total
        self.done = already_done
        self._start_done = already_done
        self._started = time.monotonic()
        self._last = 0.0

    def frame_done(self) -> None:
        self.done += 1
        self.report("enhancing")

    def report(self, stage: str, force: bool = False) -> None:
        now = time.monotonic()
        if self._callback is None or (not force and now - self._last < PROGRESS_INTERVAL_S):
            return
        self._last = now
        fps = (self.done - self._start_done) / max(now - self._started, 1e-6)
        remaining = self._total - self.done
        eta = remaining / fps if fps > 0 else None
        percent = 100.0 * self.done / self._total if self._total else 100.0
        self._callback(Progress(stage, round(percent, 2), self.done, self._total, round(fps, 2), eta))


@dataclass(frozen=True)
class _FrameItem:
    number: int
    pts: int
    image: Frame


@dataclass(frozen=True)
class _EncoderInput:
    number: int
    pts: int
    frame: av.VideoFrame


@dataclass(frozen=True)
class _SegmentEnd:
    span: SegmentSpan
    state: bytes


@dataclass(frozen=True)
class _Failure:
    error: BaseException


_END = object()


class _Stage(threading.Thread):
    """A pipeline thread that forwards its failure downstream instead of dying silently."""

    def __init__(self, name: str, body: Callable[[], None], out: queue.Queue[Any], cancel: threading.Event):
        super().__init__(name=name, daemon=True)
        self._body = body
        self._out = out
        self._cancel = cancel

    def run(self) -> None:
        try:
            self._body()
        except BaseException as exc:
            put(self._out, _Failure(exc), self._cancel)
        put(self._out, _END, self._cancel)


def put(target: queue.Queue[Any], item: Any, cancel: threading.Event) -> None:
    """Blocking put that gives up when the run is cancelled (so no thread hangs on a full queue)."""
    while not cancel.is_set():
        try:
            target.put(item, timeout=_POLL_S)
            return
        except queue.Full:
            continue


def drain(source: queue.Queue[Any], cancel: threading.Event) -> Iterator[Any]:
    """Items until the end marker; a forwarded failure is raised here."""
    while True:
        try:
            item = source.get(timeout=_POLL_S)
        except queue.Empty:
            if cancel.is_set():
                return
            continue
        if item is _END:
            return
        if isinstance(item, _Failure):
            raise item.error
        yield item


class _SegmentRun:
    """Streams the remaining segments of one video through decoder, enhancer and encoder."""

    def __init__(
        self,
        info: MediaInfo,
        sizes: SizePlan,
        enhancer: Enhancer,
        config: PipelineConfig,
        scratch: Path,
        checkpoint: Checkpoint | None,
        fingerprint: str,
        reporter: _Reporter,
    ):
        self.info, self.sizes, self.enhancer, self.config = info, sizes, enhancer, config
        self.scratch, self.checkpoint, self.fingerprint, self.reporter = (
            scratch,
            checkpoint,
            fingerprint,
            reporter,
        )
        self.cancel = threading.Event()
        self.decoded: queue.Queue[Any] = queue.Queue(config.queue_size)
        self.enhanced: queue.Queue[Any] = queue.Queue(config.queue_size)
        self.converted: queue.Queue[Any] = queue.Queue(config.queue_size)

    def process(
        self, spans: Sequence[SegmentSpan], state: bytes | None, should_stop: Callable[[], bool] | None
    ) -> list[Piece]:
        if not spans:
            return []
        if should_stop is not None and should_stop():
            raise PipelineStopped()
        threads = [
            _Stage("decode", lambda: self._decode(spans), self.decoded, self.cancel),
            _Stage("enhance", lambda: self._enhance(spans, state), self.enhanced, self.cancel),
            _Stage("convert", self._convert, self.converted, self.cancel),
        ]
        for thread in threads:
            thread.start()
        try:
            return self._encode(spans, should_stop)
        finally:
            self.cancel.set()
            for thread in threads:
                thread.join()

    def _decode(self, spans: Sequence[SegmentSpan]) -> None:
        """Decode from the first remaining segment to the end, checking every frame is the expected one."""
        expected = self.info.video.frame_pts
        number = spans[0].first_frame
        try:
            for decoded in iter_frames(self.info, self.sizes.enhancer_input, start_pts=spans[0].start_pts):
                if number >= len(expected) or decoded.pts != expected[number]:
                    raise DecodeFailed(
                        "The decoder returned frames the probe did not see.",
                        detail=f"frame {number} pts {decoded.pts}",
                    )
                put(self.decoded, _FrameItem(number, decoded.pts, decoded.image), self.cancel)
                number += 1
        except MediaError:
            raise
        except Exception as exc:
            raise DecodeFailed(detail=repr(exc)) from exc
        if number != len(expected) and not self.cancel.is_set():
            raise DecodeFailed(
                "The video ended before all its frames were decoded.",
                detail=f"{number} of {len(expected)} frames",
            )

    def _enhance(self, spans: Sequence[SegmentSpan], state: bytes | None) -> None:
        ends = {span.end_frame - 1: span for span in spans}
        session = self._open_session(state)
        try:
            for item in drain(self.decoded, self.cancel):
                image = _enhance_frame(session, item.image, self.sizes.enhancer_output)
                put(self.enhanced, _FrameItem(item.number, item.pts, image), self.cancel)
                if item.number in ends:
                    put(self.enhanced, _SegmentEnd(ends[item.number], session.state()), self.cancel)
        finally:
            session.close()

    def _convert(self) -> None:
        """RGB to the encoder's input on a thread of its own (see OutputConverter): neither the
        enhancer's thread, which keeps a GPU busy, nor the encoder's waits for it."""
        convert = OutputConverter(self.sizes.output)
        for item in drain(self.enhanced, self.cancel):
            if isinstance(item, _FrameItem):
                item = _EncoderInput(item.number, item.pts, convert(item.image))
            put(self.converted, item, self.cancel)

    def _open_session(self, state: bytes | None) -> EnhancerSession:
        try:
            return self.enhancer.open_session(self.sizes.enhancer_input, self.sizes.enhancer_output, state)
        except EnhancerError as exc:
            raise EnhancementFailed(exc.message, detail=exc.detail) from exc
        except Exception as exc:
            raise EnhancementFailed(detail=repr(exc)) from exc

    def _encode(self, spans: Sequence[SegmentSpan], should_stop: Callable[[], bool] | None) -> list[Piece]:
        """One encoder for all remaining segments; each piece is saved as soon as it is complete."""
        writer = _PieceWriter(self, spans)
        try:
            for item in drain(self.converted, self.cancel):
                if isinstance(item, _EncoderInput):
                    writer.write(item)
                    self.reporter.frame_done()
                elif writer.segment_ended(item) and should_stop is not None and should_stop():
                    writer.finish()  # flushing the encoder completes (and saves) this segment
                    raise PipelineStopped()
            pieces = writer.finish()
        finally:
            writer.abort()  # nothing left to discard once finished
        if len(pieces) != len(spans):
            raise DecodeFailed("The pipeline ended before the last segment.")
        return pieces

    def save_piece(self, span: SegmentSpan, path: Path, state: bytes) -> None:
        if self.checkpoint is not None:
            meta = {
                "fingerprint": self.fingerprint,
                "start_pts": span.start_pts,
                "end_pts": span.end_pts,
                "frames": span.frame_count,
            }
            self.checkpoint.save(span.index, path, state, meta)


class _PieceWriter:
    """Feeds the run's one encoder and checkpoints each piece it completes.

    A piece completes after its segment's last frame went in (the encoder trails its input),
    so the enhancer state taken at the segment's end waits here until then.
    """

    def __init__(self, run: _SegmentRun, spans: Sequence[SegmentSpan]) -> None:
        self._run = run
        self._spans = {span.index: span for span in spans}
        self._remaining = iter(spans)
        self._last_index = spans[-1].index
        self._current: SegmentSpan | None = None
        self._states: dict[int, bytes] = {}
        self._pieces: list[Piece] = []
        rate = run.info.video.frame_rate.limit_denominator(100_000) or Fraction(25)
        self._encoder: SegmentedEncoder | None = SegmentedEncoder(
            run.sizes.output, run.info.video.time_base, rate, run.config.encoder
        )

    def write(self, item: _EncoderInput) -> None:
        encoder = self._open_encoder()
        while self._current is None or item.number >= self._current.end_frame:
            span = self._current = next(self._remaining)
            path = self._run.scratch / f"piece-{span.index:06d}.mp4"
            encoder.begin_piece(PieceSpan(span.index, span.start_pts, span.end_pts, path))
        self._save(encoder.write(item.frame, item.pts))

    def segment_ended(self, end: _SegmentEnd) -> bool:
        """Keep the state for the segment's piece; True unless it was the last segment."""
        self._states[end.span.index] = end.state
        return end.span.index != self._last_index

    def finish(self) -> list[Piece]:
        """Flush the encoder; every piece begun so far is saved. Returns all pieces."""
        done = self._open_encoder().finish()
        self._encoder = None
        self._save(done)
        return self._pieces

    def abort(self) -> None:
        if self._encoder is not None:
            self._encoder.abort()
            self._encoder = None

    def _open_encoder(self) -> SegmentedEncoder:
        if self._encoder is None:
            raise EncodeFailed(detail="the encoder was already closed")
        return self._encoder

    def _save(self, done: Sequence[PieceSpan]) -> None:
        for piece in done:
            span = self._spans[piece.index]
            state = self._states.pop(span.index, None)
            if state is None:
                raise EncodeFailed(detail=f"piece {span.index} completed before its last frame")
            self._run.save_piece(span, piece.path, state)
            self._pieces.append(Piece(piece.path, span.start_pts))


def _enhance_frame(session: EnhancerSession, image: Frame, size: tuple[int, int]) -> Frame:
    try:
        enhanced = session.enhance(image)
    except EnhancerError as exc:
        raise EnhancementFailed(exc.message, detail=exc.detail) from exc
    except Exception as exc:
        raise EnhancementFailed(detail=repr(exc)) from exc
    # A wrong shape would be encoded as a corrupt picture; refuse it instead.
    if enhanced.shape != (size[1], size[0], 3) or enhanced.dtype != np.uint8:
        raise EnhancementFailed(
            detail=f"enhancer returned {enhanced.shape} {enhanced.dtype}, expected {size}"
        )
    return enhanced
