"""Small enhancers for testing the pipeline around them (not for testing enhancement)."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

import numpy as np
from PIL import Image

from video_enhancer.enhancers.base import EnhancerSession, Frame, Size


def nearest(frame: Frame, size: Size) -> Frame:
    return np.asarray(Image.fromarray(frame).resize(size, Image.Resampling.NEAREST))


class _Session:
    def __init__(self, owner: CountingEnhancer, out_size: Size, count: int) -> None:
        self._owner = owner
        self._out_size = out_size
        self.count = count

    def enhance(self, frame: Frame) -> Frame:
        if self._owner.fail_at is not None and self.count == self._owner.fail_at:
            raise RuntimeError("simulated model failure")
        if self._owner.delay_s:
            time.sleep(self._owner.delay_s)
        self.count += 1
        if self._owner.wrong_shape:
            return frame
        return nearest(frame, self._out_size)

    def state(self) -> bytes:
        return str(self.count).encode()

    def close(self) -> None:
        return None


@dataclass
class CountingEnhancer:
    """Nearest-neighbour upscale whose state is the number of frames it has seen."""

    name: str = "counting"
    native_scale: int | None = None
    delay_s: float = 0.0
    fail_at: int | None = None
    wrong_shape: bool = False
    opened_with: list[bytes | None] = field(default_factory=list)

    def open_session(self, in_size: Size, out_size: Size, state: bytes | None = None) -> EnhancerSession:
        self.opened_with.append(state)
        return _Session(self, out_size, int(state) if state else 0)


class _BrokenSession:
    def __init__(self, out_size: Size, mode: str) -> None:
        self._out_size = out_size
        self._mode = mode
        self._rng = np.random.default_rng(7)

    def enhance(self, frame: Frame) -> Frame:
        if self._mode == "noise":
            shape = (self._out_size[1], self._out_size[0], 3)
            return self._rng.integers(0, 256, shape, dtype=np.uint8)
        if self._mode == "black":
            return np.zeros((self._out_size[1], self._out_size[0], 3), dtype=np.uint8)
        return np.ascontiguousarray(nearest(frame, self._out_size)[..., ::-1])  # RGB -> BGR

    def state(self) -> bytes:
        return b""

    def close(self) -> None:
        return None


@dataclass
class BrokenEnhancer:
    """A model gone wrong: ``noise`` (random pixels), ``swap`` (red and blue swapped) or ``black``."""

    mode: str = "noise"
    name: str = "broken"
    native_scale: int | None = None

    def open_session(self, in_size: Size, out_size: Size, state: bytes | None = None) -> EnhancerSession:
        return _BrokenSession(out_size, self.mode)


@dataclass
class ParallelCountingEnhancer(CountingEnhancer):
    """A counting enhancer with batch rows to spare: the pipeline may split a video into lanes.

    Its state is the index of the next frame, so a lane started at frame N says so; its pictures
    do not depend on the history, so a split run gives the unsplit run's frames.
    """

    name: str = "parallel-counting"
    streams: int = 3
    opened_at: list[int] = field(default_factory=list)
    frames_enhanced: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def idle_streams(self) -> int:
        return self.streams

    def open_session(self, in_size: Size, out_size: Size, state: bytes | None = None) -> EnhancerSession:
        with self._lock:
            self.opened_with.append(state)
        return _CountedSession(self, _Session(self, out_size, int(state) if state else 0))

    def open_session_at(self, in_size: Size, out_size: Size, frame_index: int) -> EnhancerSession:
        with self._lock:
            self.opened_at.append(frame_index)
        return _CountedSession(self, _Session(self, out_size, frame_index))


class _CountedSession:
    def __init__(self, owner: ParallelCountingEnhancer, inner: _Session) -> None:
        self._owner = owner
        self._inner = inner

    def enhance(self, frame: Frame) -> Frame:
        with self._owner._lock:
            self._owner.frames_enhanced += 1
        return self._inner.enhance(frame)

    def state(self) -> bytes:
        return self._inner.state()

    def close(self) -> None:
        self._inner.close()
