"""Streaming pipeline: segmented runs, frame 0, noise, input checks, precision."""

from __future__ import annotations

from typing import Any

import pytest
import torch
from torch import Tensor

from stream_diffvsr.errors import InputError, StateError
from stream_diffvsr.pipeline import StreamDiffVSRPipeline
from stream_diffvsr.state import StreamState
from stream_diffvsr.testing import random_frames


def run(pipeline: StreamDiffVSRPipeline, frames: list[Tensor], state: StreamState) -> list[Tensor]:
    return [pipeline.upscale_frame(frame, state).clone() for frame in frames]


def test_segmented_run_with_restored_state_equals_uninterrupted_run(
    pipeline: StreamDiffVSRPipeline,
) -> None:
    frames = random_frames(4)
    whole = run(pipeline, frames, pipeline.new_state(seed=7))

    first_state = pipeline.new_state(seed=7)
    first = run(pipeline, frames[:2], first_state)
    saved = first_state.to_bytes()
    del first_state
    resumed = StreamState.from_bytes(saved)
    assert resumed.frame_index == 2
    second = run(pipeline, frames[2:], resumed)

    for expected, actual in zip(whole, first + second, strict=True):
        assert torch.equal(expected, actual)
    # Without the carried state frame 2 would differ: the state is what makes them equal.
    cold = pipeline.upscale_frame(frames[2], pipeline.new_state(seed=7))
    assert not torch.equal(cold, whole[2])


def test_frame_zero_skips_controlnet_and_flow(pipeline: StreamDiffVSRPipeline) -> None:
    calls = {"controlnet": 0, "flow": 0}
    controlnet, flow = pipeline._controlnet_call, pipeline.flow

    def counting_controlnet(*args: Any, **kwargs: Any) -> Any:
        calls["controlnet"] += 1
        assert kwargs["controlnet_cond"].shape == (1, 3, 48, 80)
        assert kwargs["conditioning_scale"] == 1.0
        return controlnet(*args, **kwargs)

    def counting_flow(current: Tensor, previous: Tensor) -> Tensor:
        calls["flow"] += 1
        assert current.shape == previous.shape == (1, 3, 48, 80)
        return flow(current, previous)

    pipeline._controlnet_call, pipeline.flow = counting_controlnet, counting_flow
    state = pipeline.new_state(seed=0)
    frames = random_frames(2)
    pipeline.upscale_frame(frames[0], state)
    assert calls == {"controlnet": 0, "flow": 0}
    pipeline.upscale_frame(frames[1], state)
    assert calls == {"controlnet": 4, "flow": 1}


def test_seeded_noise_is_one_cpu_draw_per_frame_in_order(pipeline: StreamDiffVSRPipeline) -> None:
    frames = random_frames(2)
    seeded = run(pipeline, frames, pipeline.new_state(seed=42))
    generator = torch.Generator().manual_seed(42)
    draws = [torch.randn((1, 4, 12, 20), generator=generator) for _ in frames]
    state = pipeline.new_state(seed=999)
    explicit = [pipeline.upscale_frame(f, state, latents=z) for f, z in zip(frames, draws, strict=True)]
    for a, b in zip(seeded, explicit, strict=True):
        assert torch.equal(a, b)


def test_output_is_x4_and_carried_unclamped(pipeline: StreamDiffVSRPipeline) -> None:
    state = pipeline.new_state(seed=1)
    output = pipeline.upscale_frame(random_frames(1)[0], state)
    assert output.shape == (1, 3, 48, 80)
    assert state.previous_hr is output and state.frame_index == 1
    assert pipeline.timesteps == [999, 749, 499, 249]


@pytest.mark.parametrize(
    ("frame", "message"),
    [
        (torch.zeros(1, 3, 14, 20), "multiple of 4"),
        (torch.zeros(3, 12, 20), r"\(1, 3, h, w\)"),
        (torch.zeros(1, 3, 12, 20, dtype=torch.uint8), "float"),
    ],
)
def test_check_inputs_rejects_bad_frames(
    pipeline: StreamDiffVSRPipeline, frame: Tensor, message: str
) -> None:
    with pytest.raises(InputError, match=message):
        pipeline.upscale_frame(frame, pipeline.new_state(seed=0))


def test_check_inputs_rejects_bad_latents_and_size_changes(pipeline: StreamDiffVSRPipeline) -> None:
    state = pipeline.new_state(seed=0)
    with pytest.raises(InputError, match="latents"):
        pipeline.upscale_frame(torch.zeros(1, 3, 12, 20), state, latents=torch.zeros(1, 4, 12, 16))
    pipeline.upscale_frame(torch.zeros(1, 3, 12, 20), state)
    with pytest.raises(StateError, match="differs"):
        pipeline.upscale_frame(torch.zeros(1, 3, 16, 20), state)


def test_state_bytes_reject_garbage() -> None:
    with pytest.raises(StateError):
        StreamState.from_bytes(b"not a state")
    fresh = StreamState.from_bytes(StreamState.start(3).to_bytes())
    assert fresh.frame_index == 0 and not fresh.has_previous
    assert torch.equal(
        torch.randn(4, generator=fresh.generator), torch.randn(4, generator=torch.Generator().manual_seed(3))
    )


def test_bfloat16_models_with_float32_flow_and_scheduler(
    pipeline: StreamDiffVSRPipeline,
) -> None:
    half = StreamDiffVSRPipeline(
        pipeline.unet,
        pipeline.controlnet,
        pipeline.vae,
        pipeline.scheduler,
        pipeline.prompt_embeds,
        pipeline.flow,
        dtype=torch.bfloat16,
    )
    assert half.unet.dtype == torch.bfloat16 and half.vae.dtype == torch.bfloat16
    state = half.new_state(seed=0)
    outputs = run(half, random_frames(2), state)
    assert all(o.dtype == torch.bfloat16 and torch.isfinite(o.float()).all() for o in outputs)
    restored = StreamState.from_bytes(state.to_bytes())
    assert restored.previous_hr is not None and restored.previous_hr.dtype == torch.bfloat16
    assert torch.equal(restored.previous_hr, outputs[-1])
