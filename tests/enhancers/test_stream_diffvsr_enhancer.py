"""The stream-diffvsr enhancer on a tiny random checkpoint (real loader, RAFT with random weights)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch

from stream_diffvsr.testing import write_random_raft_weights, write_tiny_checkpoint
from video_enhancer.enhancers import Enhancer, EnhancerError, EnhancerSession, get_enhancer
from video_enhancer.enhancers.registry import EnhancerUnavailableError
from video_enhancer.enhancers.stream_diffvsr import StreamDiffVSREnhancer

IN_SIZE = (32, 32)  # (width, height): RAFT needs 128 px at the output
OUT_SIZE = (128, 128)


@pytest.fixture(scope="module", autouse=True)
def one_cpu_thread() -> Iterator[None]:
    """Tiny models gain nothing from threads, and OpenMP spinning on a shared CPU costs 10-50x."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


@pytest.fixture(scope="module")
def weights(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("stream-diffvsr")
    checkpoint = write_tiny_checkpoint(folder / "model")
    return {"model_path": checkpoint, "flow_weights": write_random_raft_weights(folder / "raft.pth")}


@pytest.fixture(scope="module")
def enhancer(weights: dict[str, Path]) -> StreamDiffVSREnhancer:
    loaded = get_enhancer("stream-diffvsr", **weights, device="cpu", dtype="float32")
    assert isinstance(loaded, StreamDiffVSREnhancer)
    return loaded


def frames(count: int) -> list[np.ndarray]:
    rng = np.random.default_rng(1)
    base = rng.integers(0, 256, size=(IN_SIZE[1], IN_SIZE[0], 3), dtype=np.uint8)
    return [np.ascontiguousarray(np.roll(base, k, axis=1)) for k in range(count)]


def test_it_is_an_enhancer_with_native_scale_four(enhancer: StreamDiffVSREnhancer) -> None:
    assert isinstance(enhancer, Enhancer)
    assert enhancer.name == "stream-diffvsr" and enhancer.native_scale == 4
    session = enhancer.open_session(IN_SIZE, OUT_SIZE)
    assert isinstance(session, EnhancerSession)
    output = session.enhance(frames(1)[0])
    assert output.shape == (128, 128, 3) and output.dtype == np.uint8
    session.close()
    with pytest.raises(EnhancerError, match="closed"):
        session.enhance(frames(1)[0])


def test_resumed_segments_equal_one_uninterrupted_run(enhancer: StreamDiffVSREnhancer) -> None:
    video = frames(2)
    whole = enhancer.open_session(IN_SIZE, OUT_SIZE)
    expected = [whole.enhance(f) for f in video]

    empty = enhancer.open_session(IN_SIZE, OUT_SIZE).state()  # valid after zero frames
    first = enhancer.open_session(IN_SIZE, OUT_SIZE, state=empty)
    part_one = [first.enhance(video[0])]
    saved = first.state()
    first.close()
    second = enhancer.open_session(IN_SIZE, OUT_SIZE, state=saved)
    part_two = [second.enhance(video[1])]

    for a, b in zip(expected, part_one + part_two, strict=True):
        assert np.array_equal(a, b)


def test_sizes_it_cannot_take_fail_when_the_session_opens(enhancer: StreamDiffVSREnhancer) -> None:
    with pytest.raises(EnhancerError, match="x4"):
        enhancer.open_session(IN_SIZE, (64, 64))
    with pytest.raises(EnhancerError, match="30x32"):
        enhancer.open_session((30, 32), (120, 128))
    with pytest.raises(EnhancerError) as too_small:
        enhancer.open_session((16, 16), (64, 64))
    assert "RAFT" in too_small.value.detail


def test_bad_or_mismatched_state_is_refused(enhancer: StreamDiffVSREnhancer) -> None:
    with pytest.raises(EnhancerError, match="unreadable"):
        enhancer.open_session(IN_SIZE, OUT_SIZE, state=b"garbage")
    session = enhancer.open_session(IN_SIZE, OUT_SIZE)
    session.enhance(frames(1)[0])
    with pytest.raises(EnhancerError, match="32x36"):
        enhancer.open_session((32, 36), (128, 144), state=session.state())
    with pytest.raises(EnhancerError, match="Expected"):
        session.enhance(np.zeros((8, 8, 3), dtype=np.uint8))


def test_missing_weights_make_it_unavailable(tmp_path: Path) -> None:
    with pytest.raises(EnhancerUnavailableError):
        StreamDiffVSREnhancer(model_path=tmp_path / "nothing-here", device="cpu")
    with pytest.raises(EnhancerUnavailableError):
        StreamDiffVSREnhancer(device="cpu")


def test_gpu_streams_run_sessions_together_with_their_single_stream_results(
    enhancer: StreamDiffVSREnhancer, weights: dict[str, Path]
) -> None:
    batched = StreamDiffVSREnhancer(**weights, device="cpu", dtype="float32", gpu_streams=2, batch_wait_s=30)
    videos = [frames(2), [np.ascontiguousarray(f[::-1]) for f in frames(2)]]
    outputs: list[list[np.ndarray]] = [[], []]
    # Both open before either enhances: a session alone when its first frame arrives runs alone.
    sessions = [batched.open_session(IN_SIZE, OUT_SIZE) for _ in videos]

    def enhance(index: int) -> None:
        outputs[index].extend(sessions[index].enhance(f) for f in videos[index])
        sessions[index].close()

    threads = [threading.Thread(target=enhance, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert batched.engine is not None and list(batched.engine.batch_sizes) == [2, 2]
    batched.engine.close()
    for video, out in zip(videos, outputs, strict=True):
        single = enhancer.open_session(IN_SIZE, OUT_SIZE)
        expected = [single.enhance(f) for f in video]
        assert len(out) == len(expected)
        for e, a in zip(expected, out, strict=True):
            assert np.abs(e.astype(int) - a.astype(int)).max() <= 1
