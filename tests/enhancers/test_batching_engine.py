"""The batching engine: several sessions share one model thread, each gets its own video."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import numpy as np
import pytest
import torch
from torch import Tensor

from stream_diffvsr import StreamDiffVSRPipeline, StreamState, frame_to_tensor, tensor_to_frame
from stream_diffvsr.loading import load_components
from stream_diffvsr.testing import motion_flow, write_tiny_checkpoint
from video_enhancer.enhancers import EnhancerError, EnhancerSession
from video_enhancer.enhancers.base import Frame
from video_enhancer.enhancers.batching import BatchingEngine

IN_SIZE = (20, 12)  # (width, height)
LONG_WAIT_S = 30.0  # far above a tiny frame's cost: a wait that happened would show


@pytest.fixture(scope="module", autouse=True)
def one_cpu_thread() -> Iterator[None]:
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory: pytest.TempPathFactory) -> StreamDiffVSRPipeline:
    parts = load_components(write_tiny_checkpoint(tmp_path_factory.mktemp("tiny") / "model"))
    return StreamDiffVSRPipeline(
        parts.unet, parts.controlnet, parts.vae, parts.scheduler, parts.prompt_embeds, motion_flow
    )


@pytest.fixture
def engine(pipeline: StreamDiffVSRPipeline) -> Iterator[BatchingEngine]:
    engine = BatchingEngine(pipeline, max_batch=4, max_wait_s=LONG_WAIT_S)
    yield engine
    engine.close()


def video(count: int, seed: int) -> list[Frame]:
    rng = np.random.default_rng(seed)
    base = rng.integers(0, 256, size=(IN_SIZE[1], IN_SIZE[0], 3), dtype=np.uint8)
    return [np.ascontiguousarray(np.roll(base, k, axis=1)) for k in range(count)]


def alone(pipeline: StreamDiffVSRPipeline, frames: list[Frame], seed: int) -> list[Tensor]:
    state = StreamState.start(seed)
    return [pipeline.upscale_frame(frame_to_tensor(f), state) for f in frames]


def enhance_all(session: EnhancerSession, frames: list[Frame], out: list[Frame]) -> None:
    try:
        out.extend(session.enhance(frame) for frame in frames)
    finally:
        session.close()


def run_in_threads(jobs: list[tuple[EnhancerSession, list[Frame]]]) -> list[list[Frame]]:
    outputs: list[list[Frame]] = [[] for _ in jobs]
    threads = [
        threading.Thread(target=enhance_all, args=(session, frames, out))
        for (session, frames), out in zip(jobs, outputs, strict=True)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return outputs


def test_sessions_are_batched_and_each_gets_its_unbatched_video(
    engine: BatchingEngine, pipeline: StreamDiffVSRPipeline
) -> None:
    videos = [video(3, seed=1), video(2, seed=2), video(1, seed=3)]
    sessions = [engine.open_session(IN_SIZE, StreamState.start(s)) for s in (11, 12, 13)]
    started = time.monotonic()
    outputs = run_in_threads(list(zip(sessions, videos, strict=True)))
    # All open sessions gathered each round; closed ones are not waited for.
    assert list(engine.batch_sizes) == [3, 2, 1]
    assert time.monotonic() - started < LONG_WAIT_S
    for frames, seed, out in zip(videos, (11, 12, 13), outputs, strict=True):
        expected = [tensor_to_frame(t) for t in alone(pipeline, frames, seed)]
        assert len(out) == len(frames)
        for e, a in zip(expected, out, strict=True):
            assert np.abs(e.astype(int) - a.astype(int)).max() <= 1


def test_a_lone_session_does_not_wait(engine: BatchingEngine) -> None:
    session = engine.open_session(IN_SIZE, StreamState.start(0))
    started = time.monotonic()
    for frame in video(2, seed=4):
        assert session.enhance(frame).shape == (48, 80, 3)
    assert time.monotonic() - started < LONG_WAIT_S
    assert list(engine.batch_sizes) == [1, 1]


def test_a_bad_frame_fails_only_its_session(engine: BatchingEngine) -> None:
    bad = engine.open_session(IN_SIZE, StreamState.start(0))
    good = engine.open_session(IN_SIZE, StreamState.start(1))
    with pytest.raises(EnhancerError, match="Expected a"):
        bad.enhance(np.zeros((12, 24, 3), dtype=np.uint8))
    bad.close()
    assert good.enhance(video(1, seed=5)[0]).shape == (48, 80, 3)
    with pytest.raises(EnhancerError, match="closed"):
        bad.enhance(video(1, seed=5)[0])


def test_a_failed_batch_is_retried_row_by_row(
    pipeline: StreamDiffVSRPipeline, monkeypatch: pytest.MonkeyPatch
) -> None:
    def flow_failing_in_batches(current: Tensor, previous: Tensor) -> Tensor:
        if current.shape[0] > 1:
            raise RuntimeError("out of memory for a batch")
        return motion_flow(current, previous)

    monkeypatch.setattr(pipeline, "flow", flow_failing_in_batches)
    engine = BatchingEngine(pipeline, max_batch=4, max_wait_s=LONG_WAIT_S)
    try:
        videos = [video(2, seed=6), video(2, seed=7)]
        sessions = [engine.open_session(IN_SIZE, StreamState.start(s)) for s in (1, 2)]
        outputs = run_in_threads(list(zip(sessions, videos, strict=True)))
    finally:
        engine.close()
    assert list(engine.batch_sizes) == [2, 1, 1]  # frame 0 batched; frame 1 failed as a batch
    for frames, seed, out in zip(videos, (1, 2), outputs, strict=True):
        expected = [tensor_to_frame(t) for t in alone(pipeline, frames, seed)]
        assert all(
            np.abs(e.astype(int) - a.astype(int)).max() <= 1 for e, a in zip(expected, out, strict=True)
        )


def test_state_bytes_resume_a_session(engine: BatchingEngine, pipeline: StreamDiffVSRPipeline) -> None:
    frames = video(3, seed=8)
    first = engine.open_session(IN_SIZE, StreamState.start(9))
    head = [first.enhance(f) for f in frames[:2]]
    saved = first.state()
    first.close()
    resumed = engine.open_session(IN_SIZE, StreamState.from_bytes(saved))
    tail = resumed.enhance(frames[2])
    expected = [tensor_to_frame(t) for t in alone(pipeline, frames, 9)]
    for e, a in zip(expected, [*head, tail], strict=True):
        assert np.abs(e.astype(int) - a.astype(int)).max() <= 1


def test_a_stopped_engine_refuses_sessions(pipeline: StreamDiffVSRPipeline) -> None:
    engine = BatchingEngine(pipeline)
    engine.close()
    engine.close()
    with pytest.raises(EnhancerError, match="stopped"):
        engine.open_session(IN_SIZE, StreamState.start(0))
