"""Two videos through the real media pipeline at once, batched by one engine, as when run alone."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import av
import numpy as np
import pytest
import torch

from media.clips import Clip, ClipLibrary, ClipSpec
from stream_diffvsr.testing import write_random_raft_weights, write_tiny_checkpoint
from video_enhancer.enhancers.stream_diffvsr import StreamDiffVSREnhancer
from video_enhancer.media.encode import EncoderSettings
from video_enhancer.media.pipeline import PipelineConfig, run_pipeline
from video_enhancer.media.probe import probe

# Different sizes (two batch groups), lengths and pictures; 4 fps, half-second segments so
# every job saves its streaming state at segment ends while the other runs.
SPECS = [
    ClipSpec(name="batched-a", width=32, height=32, fps=4, seconds=1.0),
    ClipSpec(name="batched-b", width=32, height=32, fps=4, seconds=1.5, marker=True),
    ClipSpec(name="batched-c", width=40, height=32, fps=4, seconds=1.0),
]
CONFIG = PipelineConfig(
    max_height=128,
    scale=4.0,
    segment_seconds=0.5,
    encoder=EncoderSettings(codec="libx264", preset="ultrafast", crf=18),
)


@pytest.fixture(scope="module", autouse=True)
def one_cpu_thread() -> Iterator[None]:
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


@pytest.fixture(scope="module")
def weights(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("weights")
    return {
        "model_path": write_tiny_checkpoint(folder / "model"),
        "flow_weights": write_random_raft_weights(folder / "raft.pth"),
    }


def decoded(path: Path) -> list[np.ndarray]:
    with av.open(str(path)) as container:
        return [frame.to_ndarray(format="rgb24") for frame in container.decode(video=0)]


def test_jobs_sharing_a_batching_engine_match_their_runs_alone(
    weights: dict[str, Path], tmp_path: Path
) -> None:
    (tmp_path / "clips").mkdir()
    clips: list[Clip] = [ClipLibrary(tmp_path / "clips").get(spec) for spec in SPECS]
    alone = StreamDiffVSREnhancer(**weights, device="cpu", dtype="float32")
    expected = []
    for clip in clips:
        run_pipeline(probe(clip.path), tmp_path / f"alone-{clip.spec.name}.mp4", alone, CONFIG)
        expected.append(decoded(tmp_path / f"alone-{clip.spec.name}.mp4"))

    batched = StreamDiffVSREnhancer(**weights, device="cpu", dtype="float32", gpu_streams=3, batch_wait_s=2)
    errors: list[BaseException] = []

    def job(clip: Clip) -> None:
        try:
            run_pipeline(probe(clip.path), tmp_path / f"batched-{clip.spec.name}.mp4", batched, CONFIG)
        except BaseException as exc:  # reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=job, args=(clip,)) for clip in clips]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    assert batched.engine is not None
    batched.engine.close()
    assert not errors
    assert max(batched.engine.batch_sizes) >= 2  # the jobs really shared forward passes
    for clip, frames in zip(clips, expected, strict=True):
        actual = decoded(tmp_path / f"batched-{clip.spec.name}.mp4")
        assert len(actual) == len(frames) == clip.frames
        # Same encoder on frames equal to 1e-4 before rounding: at most a level of difference
        # can flip, and the encoder may spread it a little.
        assert max(int(np.abs(a.astype(int) - e.astype(int)).max()) for a, e in zip(actual, frames)) <= 2
