"""Flow upsampling, the reference warp (zero flow is not an identity) and RAFT-large."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from stream_diffvsr.errors import CheckpointError, InputError
from stream_diffvsr.flow import RaftFlow, backward_warp, upsample_for_flow


def ramp(height: int, width: int) -> torch.Tensor:
    xs = torch.arange(width, dtype=torch.float32).expand(height, width)
    return xs[None, None].clone()


def test_zero_flow_stretches_around_the_centre_and_blends_borders_with_zeros() -> None:
    height, width = 6, 10
    warped = backward_warp(ramp(height, width), torch.zeros(1, 2, height, width))[0, 0]
    # Documented: a pixel x samples position x * W / (W - 1) - 0.5.
    positions = torch.arange(width, dtype=torch.float32) * width / (width - 1) - 0.5
    interior = slice(1, width - 1)
    assert torch.allclose(warped[2, interior], positions[interior], atol=1e-5)
    assert not torch.allclose(warped[2], ramp(height, width)[0, 0, 2])
    # Last column: halfway between the last pixel and the zero padding.
    assert warped[2, -1].item() == pytest.approx(0.5 * (width - 1), abs=1e-5)


def test_zero_flow_on_a_constant_image_halves_edges_and_quarters_corners() -> None:
    warped = backward_warp(torch.ones(1, 3, 8, 8), torch.zeros(1, 2, 8, 8))[0, 0]
    assert warped[3, 3].item() == pytest.approx(1.0)
    assert warped[0, 3].item() == pytest.approx(0.5)
    assert warped[3, -1].item() == pytest.approx(0.5)
    assert warped[0, 0].item() == pytest.approx(0.25)
    assert warped[-1, -1].item() == pytest.approx(0.25)


def test_flow_points_into_the_previous_frame() -> None:
    height, width = 4, 9
    flow = torch.zeros(1, 2, height, width)
    flow[:, 0] = 2.0  # each pixel came from two pixels to the right
    warped = backward_warp(ramp(height, width), flow)[0, 0]
    positions = (torch.arange(width, dtype=torch.float32) + 2.0) * width / (width - 1) - 0.5
    assert torch.allclose(warped[1, 1:5], positions[1:5], atol=1e-5)


def test_warp_rejects_a_flow_of_another_size() -> None:
    with pytest.raises(InputError):
        backward_warp(torch.zeros(1, 3, 8, 8), torch.zeros(1, 2, 8, 4))


def test_upsample_for_flow_is_unclamped_bicubic_x4() -> None:
    frame = torch.zeros(1, 3, 8, 8)
    frame[..., ::2, :] = 1.0
    frame[..., 1::2, :] = -1.0
    up = upsample_for_flow(frame)
    assert up.shape == (1, 3, 32, 32) and up.dtype == torch.float32
    assert up.abs().max() > 1.0  # bicubic overshoot is kept, as in the reference


def test_raft_large_with_random_weights_from_a_file(raft_weights: Path) -> None:
    flow = RaftFlow.from_weights(raft_weights)
    images = torch.rand(2, 1, 3, 128, 128) * 2 - 1
    result = flow(images[0], images[1])
    assert result.shape == (1, 2, 128, 128) and result.dtype == torch.float32
    assert torch.isfinite(result).all()


def test_reduced_resolution_flow_is_upsampled_and_rescaled(raft_weights: Path) -> None:
    full = RaftFlow.from_weights(raft_weights)
    reduced = RaftFlow(full.model, flow_scale=0.5)
    calls: list[tuple[int, ...]] = []
    original = full.model.forward

    def recording_forward(a: torch.Tensor, b: torch.Tensor, **kwargs: int) -> list[torch.Tensor]:
        calls.append(tuple(a.shape))
        return [torch.ones(1, 2, *a.shape[-2:])]  # one pixel right and down at RAFT's size

    full.model.forward = recording_forward  # type: ignore[method-assign]
    try:
        result = reduced(torch.zeros(1, 3, 256, 384), torch.zeros(1, 3, 256, 384))
    finally:
        full.model.forward = original  # type: ignore[method-assign]
    assert calls == [(1, 3, 128, 192)]
    assert result.shape == (1, 2, 256, 384)
    assert torch.allclose(result, torch.full_like(result, 2.0))


def test_raft_refuses_sizes_it_cannot_take(raft_weights: Path) -> None:
    flow = RaftFlow.from_weights(raft_weights)
    with pytest.raises(InputError, match="RAFT needs"):
        flow.check_output_size(96, 128)
    RaftFlow(flow.model, flow_scale=0.5).check_output_size(96, 128)  # reduced mode resizes


def test_raft_weights_file_must_match(tmp_path: Path) -> None:
    bad = tmp_path / "bad.pth"
    torch.save({"feature_encoder.convnormrelu.0.weight": torch.zeros(1)}, bad)
    with pytest.raises(CheckpointError, match="feature_encoder"):
        RaftFlow.from_weights(bad)
    with pytest.raises(CheckpointError, match="not found"):
        RaftFlow.from_weights(tmp_path / "missing.pth")
