"""The threads of a run: each lane of a video streams through decoder, enhancer and encoder.

A lane (``media.segments.Lane``) is four threads joined by bounded queues: a decoder thread, an
enhancer thread, a thread that converts the enhanced RGB frames to the encoder's input, and the
encoding thread (the caller's, when lanes run one after another). They overlap (FFmpeg, numpy,
Pillow and torch release the GIL in their heavy parts) and memory is bounded by the queue sizes,
whatever the length of the video. ``run_lanes`` runs several lanes at once when asked; the first
failure cancels the others, and a stop asked by any lane's segment boundary stops them all at
theirs.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any, Protocol

import av
import numpy as np

from video_enhancer.enhancers.base import (
    Enhancer,
    EnhancerError,
    EnhancerSession,
    Frame,
    ParallelEnhancer,
)
from video_enhancer.media.decode import iter_frames
from video_enhancer.media.encode import EncoderSettings, OutputConverter, PieceSpan, SegmentedEncoder
from video_enhancer.media.errors import (
    DecodeFailed,
    EncodeFailed,
    EnhancementFailed,
    MediaError,
    PipelineStopped,
)
from video_enhancer.media.join import Piece
from video_enhancer.media.probe import MediaInfo
from video_enhancer.media.segments import Checkpoint, FinishedSegment, Lane, SegmentSpan
from video_enhancer.media.sizing import SizePlan

_POLL_S = 0.2


class FrameCounter(Protocol):
    def frame_done(self) -> None: ...


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


@dataclass(frozen=True)
class RunPlan:
    """What every lane of one run shares."""

    info: MediaInfo
    sizes: SizePlan
    enhancer: Enhancer
    encoder: EncoderSettings
    hardware_decode: bool
    queue_size: int
    scratch: Path
    checkpoint: Checkpoint | None
    fingerprint: str
    reporter: FrameCounter


class StickyStop:
    """The caller's ``should_stop``, asked by every lane; once it said stop, every lane stops."""

    def __init__(self, should_stop: Callable[[], bool] | None) -> None:
        self._should_stop = should_stop
        self._stopped = threading.Event()

    def __call__(self) -> bool:
        if not self._stopped.is_set() and self._should_stop is not None and self._should_stop():
            self._stopped.set()
        return self._stopped.is_set()


def run_lanes(
    plan: RunPlan, lanes: Sequence[Lane], streams: int, done: dict[int, FinishedSegment], stop: StickyStop
) -> list[Piece]:
    """Run ``lanes``, up to ``streams`` at once; returns the pieces of the segments they made."""
    return _Lanes(plan, done, stop).run(lanes, streams)


class _Lanes:
    """Runs lanes, up to ``streams`` at once; the first failure stops the others at once."""

    def __init__(self, plan: RunPlan, done: dict[int, FinishedSegment], stop: StickyStop) -> None:
        self._plan, self._done, self._stop = plan, done, stop
        self._lock = threading.Lock()
        self._todo: list[Lane] = []
        self._running: set[_SegmentRun] = set()
        self._pieces: list[Piece] = []
        self._errors: list[BaseException] = []

    def run(self, lanes: Sequence[Lane], streams: int) -> list[Piece]:
        self._todo = list(lanes)
        if streams <= 1:
            self._work()  # the caller's thread encodes, as it always has
        else:
            workers = [threading.Thread(target=self._work, name=f"lane-{n}") for n in range(streams)]
            for worker in workers:
                worker.start()
            for worker in workers:
                worker.join()
        real = [e for e in self._errors if not isinstance(e, PipelineStopped)]
        if real or self._errors:
            raise (real or self._errors)[0]
        return self._pieces

    def _work(self) -> None:
        while lane := self._next():
            run = _SegmentRun(self._plan, lane)
            with self._lock:
                self._running.add(run)
            try:
                pieces = run.process(self._state_for(lane), self._stop)
            except BaseException as exc:
                self._fail(exc)
                return
            finally:
                with self._lock:
                    self._running.discard(run)
            with self._lock:
                self._pieces.extend(pieces)

    def _next(self) -> Lane | None:
        with self._lock:
            return self._todo.pop(0) if self._todo and not self._errors else None

    def _state_for(self, lane: Lane) -> bytes | None:
        return None if lane.resume_from is None else self._done[lane.resume_from].enhancer_state

    def _fail(self, error: BaseException) -> None:
        with self._lock:
            self._errors.append(error)
            others = list(self._running)
        if not isinstance(error, PipelineStopped):
            for run in others:
                run.cancel.set()


class _SegmentRun:
    """Streams one lane of a video through decoder, enhancer and encoder."""

    def __init__(self, plan: RunPlan, lane: Lane):
        self.plan, self.lane = plan, lane
        self.info, self.sizes = plan.info, plan.sizes
        self.scratch, self.reporter = plan.scratch, plan.reporter
        self.cancel = threading.Event()
        self.decoded: queue.Queue[Any] = queue.Queue(plan.queue_size)
        self.enhanced: queue.Queue[Any] = queue.Queue(plan.queue_size)
        self.converted: queue.Queue[Any] = queue.Queue(plan.queue_size)

    def process(self, state: bytes | None, should_stop: Callable[[], bool]) -> list[Piece]:
        spans = self.lane.spans
        if should_stop():
            raise PipelineStopped()
        threads = [
            _Stage("decode", self._decode, self.decoded, self.cancel),
            _Stage("enhance", lambda: self._enhance(state), self.enhanced, self.cancel),
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

    def _decode(self) -> None:
        """Decode the lane's frames (warm-up included), checking every frame is the expected one."""
        expected = self.info.video.frame_pts
        number, end = self.lane.first_frame, self.lane.end_frame
        frames = iter_frames(
            self.info, self.sizes.enhancer_input, expected[number], hardware=self.plan.hardware_decode
        )
        try:
            for decoded in frames:
                if number >= len(expected) or decoded.pts != expected[number]:
                    raise DecodeFailed(
                        "The decoder returned frames the probe did not see.",
                        detail=f"frame {number} pts {decoded.pts}",
                    )
                put(self.decoded, _FrameItem(number, decoded.pts, decoded.image), self.cancel)
                number += 1
                if number == end:
                    break
        except MediaError:
            raise
        except Exception as exc:
            raise DecodeFailed(detail=repr(exc)) from exc
        if number != end and not self.cancel.is_set():
            raise DecodeFailed(
                "The video ended before all its frames were decoded.",
                detail=f"{number} of {len(expected)} frames",
            )

    def _enhance(self, state: bytes | None) -> None:
        ends = {span.end_frame - 1: span for span in self.lane.spans}
        keep_from = self.lane.spans[0].first_frame
        session = self._open_session(state)
        try:
            for item in drain(self.decoded, self.cancel):
                image = _enhance_frame(session, item.image, self.sizes.enhancer_output)
                if item.number < keep_from:
                    continue  # a warm-up frame: it only rebuilds the session's history
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
        enhancer, sizes, first = self.plan.enhancer, self.sizes, self.lane.first_frame
        try:
            if state is None and first > 0:  # a cold lane mid-video: only lanes at once make these
                if not isinstance(enhancer, ParallelEnhancer):
                    raise EnhancementFailed(detail=f"{enhancer.name} cannot start at frame {first}")
                return enhancer.open_session_at(sizes.enhancer_input, sizes.enhancer_output, first)
            return enhancer.open_session(sizes.enhancer_input, sizes.enhancer_output, state)
        except EnhancerError as exc:
            raise EnhancementFailed(exc.message, detail=exc.detail) from exc
        except MediaError:
            raise
        except Exception as exc:
            raise EnhancementFailed(detail=repr(exc)) from exc

    def _encode(self, spans: Sequence[SegmentSpan], should_stop: Callable[[], bool]) -> list[Piece]:
        """One encoder for the lane's segments; each piece is saved as soon as it is complete."""
        writer = _PieceWriter(self, spans)
        try:
            for item in drain(self.converted, self.cancel):
                if isinstance(item, _EncoderInput):
                    writer.write(item)
                    self.reporter.frame_done()
                elif writer.segment_ended(item) and should_stop():
                    writer.finish()  # flushing the encoder completes (and saves) this segment
                    raise PipelineStopped()
            pieces = writer.finish()
        finally:
            writer.abort()  # nothing left to discard once finished
        if len(pieces) != len(spans):
            raise DecodeFailed("The pipeline ended before the last segment.")
        return pieces

    def save_piece(self, span: SegmentSpan, path: Path, state: bytes) -> None:
        if self.plan.checkpoint is not None:
            meta = {
                "fingerprint": self.plan.fingerprint,
                "start_pts": span.start_pts,
                "end_pts": span.end_pts,
                "frames": span.frame_count,
            }
            self.plan.checkpoint.save(span.index, path, state, meta)


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
            run.sizes.output, run.info.video.time_base, rate, run.plan.encoder
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
