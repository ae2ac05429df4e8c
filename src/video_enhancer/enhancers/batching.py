"""One model, several videos: a thread that batches the next frame of every active session.

Several jobs on one GPU each open a :class:`BatchedSession`; ``enhance`` hands the frame to the
engine's thread and blocks until its output is ready. The thread owns the model: it waits for
a first request, then gathers more until every open session has one pending, ``max_batch`` is
reached, or ``max_wait_s`` has passed since the first, and runs them as one
``upscale_batch`` per frame size. A lone session never waits (it is every open session), so a
single job runs at unbatched speed.

Failure isolation: each frame is checked in its caller's thread before it is queued, so a bad
frame fails only its own session. A batch that fails inside the model (out of memory, say)
moves no state; its rows are then retried one by one, so one stream's failure is not the
others'. Conversions between ``uint8`` frames and tensors run in the callers' threads,
in parallel, not on the model thread.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field

import torch
from torch import Tensor

from stream_diffvsr import (
    StreamDiffVSRError,
    StreamDiffVSRPipeline,
    StreamState,
    frame_to_tensor,
    tensor_to_frame,
)
from video_enhancer.enhancers.base import EnhancerError, Frame, Size

DEFAULT_MAX_BATCH = 8
DEFAULT_MAX_WAIT_S = 0.05
# Sizes of the latest forward passes kept for inspection; older ones are dropped.
BATCH_HISTORY = 1024


@dataclass
class _Request:
    session: BatchedSession
    frame: Tensor
    result: Future[Tensor] = field(default_factory=Future)


class BatchingEngine:
    """Owns a pipeline and a thread; sessions opened on it are enhanced together."""

    def __init__(
        self,
        pipeline: StreamDiffVSRPipeline,
        *,
        max_batch: int = DEFAULT_MAX_BATCH,
        max_wait_s: float = DEFAULT_MAX_WAIT_S,
    ) -> None:
        if max_batch < 1 or max_wait_s < 0:
            raise ValueError(f"max_batch must be >= 1 and max_wait_s >= 0, got {max_batch}, {max_wait_s}")
        self.pipeline = pipeline
        self.max_batch = max_batch
        self.max_wait_s = max_wait_s
        self.batch_sizes: deque[int] = deque(maxlen=BATCH_HISTORY)
        """Rows of the latest forward passes (for tests and metrics)."""
        self._open: set[BatchedSession] = set()
        self._pending: list[_Request] = []
        self._stopping = False
        self._condition = threading.Condition()
        self._thread = threading.Thread(target=self._run, name="batching-engine", daemon=True)
        self._thread.start()

    def open_session(self, in_size: Size, state: StreamState) -> BatchedSession:
        session = BatchedSession(self, in_size, state)
        with self._condition:
            if self._stopping:
                raise EnhancerError("The batching engine is stopped.")
            self._open.add(session)
        return session

    def idle_rows(self) -> int:
        """Rows of a full batch that no open session fills now."""
        with self._condition:
            return max(0, self.max_batch - len(self._open))

    def close(self) -> None:
        """Stop the thread after the requests already queued. Idempotent."""
        with self._condition:
            self._stopping = True
            self._condition.notify_all()
        self._thread.join()

    def submit(self, session: BatchedSession, frame: Tensor) -> Future[Tensor]:
        request = _Request(session, frame)
        with self._condition:
            if self._stopping:
                raise EnhancerError("The batching engine is stopped.")
            self._pending.append(request)
            self._condition.notify_all()
        return request.result

    def forget(self, session: BatchedSession) -> None:
        """A closed session: the engine no longer waits for its frames."""
        with self._condition:
            self._open.discard(session)
            self._condition.notify_all()

    def _run(self) -> None:
        try:
            while batch := self._gather():
                self._enhance(batch)
        finally:  # whatever ends the loop, no caller is left waiting for ever
            with self._condition:
                self._stopping = True
                orphans, self._pending = self._pending, []
            for request in orphans:
                request.result.set_exception(EnhancerError("The batching engine stopped."))

    def _gather(self) -> list[_Request]:
        """The next batch: wait for a first request, then briefly for the other open sessions."""
        with self._condition:
            while not self._pending and not self._stopping:
                self._condition.wait()
            deadline = time.monotonic() + self.max_wait_s
            while not self._stopping and len(self._pending) < self._wanted():
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._condition.wait(left)
            batch, self._pending = self._pending[: self.max_batch], self._pending[self.max_batch :]
            return batch

    def _wanted(self) -> int:
        return max(1, min(len(self._open), self.max_batch))

    def _enhance(self, batch: list[_Request]) -> None:
        by_size: dict[tuple[int, ...], list[_Request]] = {}
        for request in batch:
            by_size.setdefault(tuple(request.frame.shape[-2:]), []).append(request)
        for group in by_size.values():
            if not self._try_batch(group):
                for request in group:
                    self._try_batch([request])

    def _try_batch(self, group: list[_Request]) -> bool:
        """Run ``group`` as one pass; False (nothing set, no state moved) to retry row by row."""
        try:
            outputs = self.pipeline.upscale_batch(
                [r.frame for r in group], [r.session.stream_state for r in group]
            )
        except Exception as exc:  # any failure belongs to the callers, never kills the thread
            if len(group) > 1:
                return False
            group[0].result.set_exception(_as_enhancer_error(exc))
            return True
        self.batch_sizes.append(len(group))
        for request, output in zip(group, outputs, strict=True):
            request.result.set_result(output)
        return True


class BatchedSession:
    """An :class:`~video_enhancer.enhancers.base.EnhancerSession` served by a shared engine."""

    def __init__(self, engine: BatchingEngine, in_size: Size, state: StreamState) -> None:
        self._engine = engine
        self._in_size = in_size
        self._state: StreamState | None = state

    @property
    def stream_state(self) -> StreamState:
        if self._state is None:
            raise EnhancerError("The Stream-DiffVSR session is closed.")
        return self._state

    def enhance(self, frame: Frame) -> Frame:
        width, height = self._in_size
        if frame.shape != (height, width, 3):
            raise EnhancerError(f"Expected a {(height, width, 3)} frame, got {frame.shape}.")
        lr = frame_to_tensor(frame)
        _call_model(lambda: self._engine.pipeline.check_inputs(lr, self.stream_state, None))
        output = self._engine.submit(self, lr).result()
        return tensor_to_frame(output)

    def state(self) -> bytes:
        return self.stream_state.to_bytes()

    def close(self) -> None:
        if self._state is not None:
            self._engine.forget(self)
        self._state = None


def _call_model(check: Callable[[], None]) -> None:
    try:
        check()
    except Exception as exc:
        raise _as_enhancer_error(exc) from exc


def _as_enhancer_error(exc: Exception) -> EnhancerError:
    if isinstance(exc, EnhancerError):
        return exc
    if isinstance(exc, torch.OutOfMemoryError):
        return EnhancerError("The GPU ran out of memory.", detail=str(exc))
    if isinstance(exc, StreamDiffVSRError):
        return EnhancerError("Stream-DiffVSR could not enhance the frame.", detail=str(exc))
    return EnhancerError("The enhancement model failed.", detail=f"{type(exc).__name__}: {exc}")
