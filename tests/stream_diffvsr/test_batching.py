"""Batched streams: every stream's output equals its unbatched run, whatever batch it was in."""

from __future__ import annotations

from typing import Any

import pytest
import torch
from torch import Tensor

from stream_diffvsr.errors import InputError, StateError
from stream_diffvsr.flow import RaftFlow
from stream_diffvsr.pipeline import StreamDiffVSRPipeline, rows_by_size
from stream_diffvsr.state import StreamState
from stream_diffvsr.testing import random_frames

# fp32 on CPU: batched convolutions and matmuls may round differently from batch-1 ones.
TOLERANCE = 1e-4


def unbatched(pipeline: StreamDiffVSRPipeline, frames: list[Tensor], seed: int) -> list[Tensor]:
    state = pipeline.new_state(seed=seed)
    return [pipeline.upscale_frame(frame, state).clone() for frame in frames]


def max_difference(expected: list[Tensor], actual: list[Tensor]) -> float:
    assert len(expected) == len(actual)
    return max(float((e - a).abs().max()) for e, a in zip(expected, actual, strict=True))


def count_batch_sizes(pipeline: StreamDiffVSRPipeline) -> dict[str, list[int]]:
    """Record the batch size of every UNet and ControlNet call."""
    sizes: dict[str, list[int]] = {"unet": [], "controlnet": []}
    unet, controlnet = pipeline._unet_call, pipeline._controlnet_call

    def counting_unet(sample: Tensor, *args: Any, **kwargs: Any) -> Any:
        sizes["unet"].append(sample.shape[0])
        return unet(sample, *args, **kwargs)

    def counting_controlnet(sample: Tensor, *args: Any, **kwargs: Any) -> Any:
        sizes["controlnet"].append(sample.shape[0])
        assert kwargs["controlnet_cond"].shape[0] == sample.shape[0]
        return controlnet(sample, *args, **kwargs)

    pipeline._unet_call, pipeline._controlnet_call = counting_unet, counting_controlnet
    return sizes


def test_streams_joining_and_leaving_match_their_unbatched_runs(pipeline: StreamDiffVSRPipeline) -> None:
    videos = {"a": random_frames(5, seed=1), "b": random_frames(4, seed=2), "c": random_frames(3, seed=3)}
    seeds = {"a": 10, "b": 20, "c": 30}
    # Round r runs the listed streams together: "b" joins at a's frame 1, pauses for one round
    # (its state travels through bytes meanwhile), "c" joins late and outlives nobody.
    rounds = [["a"], ["a", "b"], ["a", "b", "c"], ["a", "c"], ["b", "a", "c"], ["b"]]
    states = {name: pipeline.new_state(seed=seed) for name, seed in seeds.items()}
    outputs: dict[str, list[Tensor]] = {name: [] for name in videos}
    sizes = count_batch_sizes(pipeline)
    for names in rounds:
        if "b" not in names and states["b"].frame_index:
            states["b"] = StreamState.from_bytes(states["b"].to_bytes())
        frames = [videos[name][states[name].frame_index] for name in names]
        results = pipeline.upscale_batch(frames, [states[name] for name in names])
        for name, result in zip(names, results, strict=True):
            outputs[name].append(result.clone())

    # Frame 0 rows batch with later rows: the ControlNet ran on the later rows only.
    assert sizes["unet"] == [n for names in rounds for n in [len(names)] * 4]
    assert sizes["controlnet"] == [n for n in [1, 2, 2, 3, 1] for _ in range(4)]
    pipeline._unet_call, pipeline._controlnet_call = pipeline.unet, pipeline.controlnet
    for name, frames in videos.items():
        assert len(outputs[name]) == len(frames)
        assert max_difference(unbatched(pipeline, frames, seeds[name]), outputs[name]) <= TOLERANCE
    # The streams really differ, so equality above is not a property of the model alone.
    assert max_difference(outputs["a"][:3], outputs["c"]) > 0.01


def test_streams_of_different_sizes_run_as_one_pass_per_size(pipeline: StreamDiffVSRPipeline) -> None:
    small = random_frames(2, 12, 20, seed=4)
    large = random_frames(2, 16, 24, seed=5)
    other_small = random_frames(2, 12, 20, seed=6)
    videos = [small, large, other_small]
    states = [pipeline.new_state(seed=s) for s in (1, 2, 3)]
    sizes = count_batch_sizes(pipeline)
    outputs: list[list[Tensor]] = [[], [], []]
    for t in range(2):
        for index, out in enumerate(pipeline.upscale_batch([v[t] for v in videos], states)):
            outputs[index].append(out)
    assert sizes["unet"] == [2] * 4 + [1] * 4 + [2] * 4 + [1] * 4
    assert [o.shape[-2:] for o in outputs[1]] == [torch.Size([64, 96])] * 2
    pipeline._unet_call, pipeline._controlnet_call = pipeline.unet, pipeline.controlnet
    for video, seed, out in zip(videos, (1, 2, 3), outputs, strict=True):
        assert max_difference(unbatched(pipeline, video, seed), out) <= TOLERANCE


def test_explicit_latents_per_row(pipeline: StreamDiffVSRPipeline) -> None:
    frames = random_frames(2, seed=7)
    generator = torch.Generator().manual_seed(99)
    latents = [torch.randn((1, 4, 12, 20), generator=generator) for _ in range(2)]
    batched = pipeline.upscale_batch(frames, [StreamState.start(0), StreamState.start(0)], latents)
    for frame, z, out in zip(frames, latents, batched, strict=True):
        alone = pipeline.upscale_frame(frame, StreamState.start(5), z)
        assert float((alone - out).abs().max()) <= TOLERANCE


def test_batched_raft_flow_matches_unbatched(pipeline: StreamDiffVSRPipeline, raft_weights: Any) -> None:
    pipeline.flow = RaftFlow.from_weights(raft_weights)  # 32x32 in -> 128x128, RAFT's minimum
    first, second = random_frames(3, 32, 32, seed=8), random_frames(2, 32, 32, seed=9)
    states = [pipeline.new_state(seed=1), pipeline.new_state(seed=2)]
    out_first = [pipeline.upscale_frame(first[0], states[0]).clone()]
    for t in range(2):  # stream 1 at frames 1, 2 with stream 2 at frames 0, 1
        pair = pipeline.upscale_batch([first[t + 1], second[t]], states)
        out_first.append(pair[0].clone())
        if t == 1:
            out_second_last = pair[1]
    assert max_difference(unbatched(pipeline, first, 1), out_first) <= TOLERANCE
    assert max_difference(unbatched(pipeline, second, 2)[-1:], [out_second_last]) <= TOLERANCE


def test_a_bad_row_fails_the_batch_before_any_state_moves(pipeline: StreamDiffVSRPipeline) -> None:
    good, other = pipeline.new_state(seed=0), pipeline.new_state(seed=1)
    frame = random_frames(1)[0]
    with pytest.raises(InputError, match="multiple of 4"):
        pipeline.upscale_batch([frame, torch.zeros(1, 3, 14, 20)], [good, other])
    with pytest.raises(StateError, match="twice"):
        pipeline.upscale_batch([frame, frame], [good, good])
    with pytest.raises(InputError, match="one state"):
        pipeline.upscale_batch([frame, frame], [good])
    assert good.frame_index == other.frame_index == 0
    assert pipeline.upscale_batch([], []) == []


def test_rows_by_size_keeps_first_appearance_order() -> None:
    frames = [torch.zeros(1, 3, h, w) for h, w in [(8, 8), (4, 8), (8, 8), (4, 8), (12, 4)]]
    assert rows_by_size(frames) == [[0, 2], [1, 3], [4]]


def test_a_failure_inside_the_model_moves_no_state(pipeline: StreamDiffVSRPipeline) -> None:
    frames = random_frames(2, seed=10)
    states = [pipeline.new_state(seed=1), pipeline.new_state(seed=2)]
    pipeline.upscale_batch([frames[0], frames[0]], states)
    before = [state.checkpoint() for state in states]
    flow = pipeline.flow

    def flow_out_of_memory(current: Tensor, previous: Tensor) -> Tensor:
        raise RuntimeError("out of memory")

    pipeline.flow = flow_out_of_memory
    with pytest.raises(RuntimeError, match="out of memory"):
        pipeline.upscale_batch([frames[1], frames[1]], states)
    for state, old in zip(states, before, strict=True):  # noise already drawn is undone
        assert state.frame_index == old.frame_index == 1
        assert torch.equal(state.generator.get_state(), old.generator_state)
        assert state.previous_hr is old.previous_hr and state.previous_lr is old.previous_lr
    pipeline.flow = flow
    retried = pipeline.upscale_batch([frames[1], frames[1]], states)
    assert max_difference(unbatched(pipeline, frames, 1)[1:], retried[:1]) <= TOLERANCE


def test_flow_batch_bounds_the_rows_per_flow_call(pipeline: StreamDiffVSRPipeline) -> None:
    frames = [random_frames(2, seed=s) for s in (11, 12, 13)]
    whole = [pipeline.new_state(seed=s) for s in (1, 2, 3)]
    pipeline.upscale_batch([f[0] for f in frames], whole)
    expected = pipeline.upscale_batch([f[1] for f in frames], whole)
    rows: list[int] = []
    chunked = StreamDiffVSRPipeline(
        pipeline.unet,
        pipeline.controlnet,
        pipeline.vae,
        pipeline.scheduler,
        pipeline.prompt_embeds,
        lambda current, previous: rows.append(current.shape[0]) or pipeline.flow(current, previous),
        flow_batch=2,
    )
    states = [chunked.new_state(seed=s) for s in (1, 2, 3)]
    chunked.upscale_batch([f[0] for f in frames], states)
    actual = chunked.upscale_batch([f[1] for f in frames], states)
    assert rows == [2, 1]
    assert max_difference(expected, actual) <= TOLERANCE
    with pytest.raises(InputError, match="flow_batch"):
        StreamDiffVSRPipeline(
            pipeline.unet,
            pipeline.controlnet,
            pipeline.vae,
            pipeline.scheduler,
            pipeline.prompt_embeds,
            pipeline.flow,
            flow_batch=0,
        )
