"""The ``stream-diffvsr`` enhancer: the service's adapter over the ``stream_diffvsr`` package.

The model is loaded once per enhancer (so once per worker) and shared by its sessions; each
session owns a :class:`stream_diffvsr.StreamState`, whose bytes are what the pipeline stores
beside every segment. A resumed session therefore continues the video exactly as if it had
never stopped (same previous frame, same previous output, same noise stream).

With ``gpu_streams == 1`` sessions of one enhancer must not run concurrently (the models are
shared); the worker runs one job at a time. With ``gpu_streams > 1`` every session goes through
one :class:`~video_enhancer.enhancers.batching.BatchingEngine`, whose thread owns the model and
enhances the next frame of up to ``gpu_streams`` sessions in one forward pass: sessions may then
be used from as many threads at once, and the media pipeline may split one video into lanes
that fill the idle rows (``idle_streams``, ``open_session_at``: a
:class:`~video_enhancer.enhancers.base.ParallelEnhancer`).
"""

from __future__ import annotations

from pathlib import Path

import torch

from stream_diffvsr import (
    StreamDiffVSRError,
    StreamDiffVSRPipeline,
    StreamState,
    frame_to_tensor,
    tensor_to_frame,
)
from stream_diffvsr.errors import CheckpointError
from video_enhancer.enhancers.base import EnhancerError, EnhancerSession, Frame, Size
from video_enhancer.enhancers.batching import DEFAULT_MAX_WAIT_S, BatchingEngine
from video_enhancer.enhancers.devices import resolve_device
from video_enhancer.enhancers.registry import EnhancerUnavailableError

SCALE = 4
DEFAULT_SEED = 42
DTYPES = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}
COMPILE_MODES = ("off", "compile", "cuda-graphs")


class StreamDiffVSRSession:
    """Consecutive frames of one video at a fixed size; state carried frame to frame."""

    def __init__(self, pipeline: StreamDiffVSRPipeline, in_size: Size, state: StreamState) -> None:
        self._pipeline = pipeline
        self._in_size = in_size
        self._state: StreamState | None = state

    def enhance(self, frame: Frame) -> Frame:
        state = self._open_state()
        width, height = self._in_size
        if frame.shape != (height, width, 3):
            raise EnhancerError(f"Expected a {(height, width, 3)} frame, got {frame.shape}.")
        try:
            output = self._pipeline.upscale_frame(frame_to_tensor(frame), state)
        except StreamDiffVSRError as exc:
            raise EnhancerError("Stream-DiffVSR could not enhance the frame.", detail=str(exc)) from exc
        except torch.OutOfMemoryError as exc:
            raise EnhancerError("The GPU ran out of memory.", detail=str(exc)) from exc
        return tensor_to_frame(output)

    def state(self) -> bytes:
        return self._open_state().to_bytes()

    def close(self) -> None:
        self._state = None  # drops the carried GPU tensors

    def _open_state(self) -> StreamState:
        if self._state is None:
            raise EnhancerError("The Stream-DiffVSR session is closed.")
        return self._state


class StreamDiffVSREnhancer:
    """Stream-DiffVSR x4, from a local checkpoint folder or a hub id."""

    name = "stream-diffvsr"
    native_scale: int | None = SCALE

    def __init__(
        self,
        model_path: Path | str | None = None,
        model_id: str | None = None,
        flow_weights: Path | str | None = None,
        device: str = "auto",
        dtype: str = "float16",
        seed: int = DEFAULT_SEED,
        flow_scale: float = 1.0,
        gpu_streams: int = 1,
        batch_wait_s: float = DEFAULT_MAX_WAIT_S,
        compile_mode: str = "off",
    ) -> None:
        if gpu_streams < 1:
            raise EnhancerError(f"gpu_streams must be at least 1, got {gpu_streams}.")
        model = model_path if model_path is not None else model_id
        if model is None:
            raise EnhancerUnavailableError("Stream-DiffVSR needs a model folder or a hub id.")
        if dtype not in DTYPES:
            raise EnhancerError(f"Unknown dtype {dtype!r}; choose one of {', '.join(DTYPES)}.")
        if compile_mode not in COMPILE_MODES:
            raise EnhancerError(
                f"Unknown compile mode {compile_mode!r}; choose one of {', '.join(COMPILE_MODES)}."
            )
        self.device = resolve_device(device)
        self._seed = seed
        try:
            self.pipeline = StreamDiffVSRPipeline.from_pretrained(
                model,
                flow_weights=flow_weights,
                device=self.device,
                dtype=DTYPES[dtype],
                flow_scale=flow_scale,
            )
        except (CheckpointError, StreamDiffVSRError) as exc:
            raise EnhancerUnavailableError(
                "The Stream-DiffVSR weights could not be loaded.", detail=str(exc)
            ) from exc
        if compile_mode != "off":
            self.pipeline.enable_compile(cuda_graphs=compile_mode == "cuda-graphs", max_batch=gpu_streams)
        self.engine = (
            BatchingEngine(self.pipeline, max_batch=gpu_streams, max_wait_s=batch_wait_s)
            if gpu_streams > 1
            else None
        )

    def idle_streams(self) -> int:
        """Sessions that would join the batch now without waiting for a row (1 when unbatched)."""
        return 1 if self.engine is None else max(1, self.engine.idle_rows())

    def open_session(self, in_size: Size, out_size: Size, state: bytes | None = None) -> EnhancerSession:
        stream_state = self._restore(state) if state else self.pipeline.new_state(self._seed)
        return self._open(in_size, out_size, stream_state)

    def open_session_at(self, in_size: Size, out_size: Size, frame_index: int) -> EnhancerSession:
        """A cold session at ``frame_index``: the seeded noise of that frame, no previous frame."""
        width, height = in_size
        return self._open(
            in_size, out_size, self.pipeline.new_state_at(self._seed, frame_index, height, width)
        )

    def _open(self, in_size: Size, out_size: Size, stream_state: StreamState) -> EnhancerSession:
        width, height = in_size
        if out_size != (width * SCALE, height * SCALE):
            raise EnhancerError(f"Stream-DiffVSR upscales x{SCALE}: {in_size} cannot give {out_size}.")
        try:
            # Size rules (multiple of 4, RAFT minimum, same size as the saved state) fail here
            # rather than on the first frame.
            self.pipeline.check_inputs(torch.zeros(1, 3, height, width), stream_state, None)
        except StreamDiffVSRError as exc:
            raise EnhancerError(
                f"Stream-DiffVSR cannot take {width}x{height} frames.", detail=str(exc)
            ) from exc
        if self.engine is not None:
            return self.engine.open_session(in_size, stream_state)
        return StreamDiffVSRSession(self.pipeline, in_size, stream_state)

    def _restore(self, state: bytes) -> StreamState:
        try:
            return StreamState.from_bytes(state, device=self.device)
        except StreamDiffVSRError as exc:
            raise EnhancerError("The saved Stream-DiffVSR state is unreadable.", detail=str(exc)) from exc
