"""Optical flow (torchvision RAFT-large) and the reference's backward warp.

Reference numerics: flow is computed by RAFT on the bicubic x4 upsampling of the current and the
previous low-resolution frame, at output resolution, in float32, 12 refinement iterations, last
estimate. ``flow_scale < 1`` computes it at a reduced resolution instead and upsamples the vectors
(a non-reference mode: it changes outputs, but removes RAFT's O((H*W)^2) correlation volume as the
memory bottleneck at 1080p and above).
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .errors import CheckpointError, InputError

# RAFT works on 1/8 feature maps and needs at least 16 of them per side.
RAFT_MULTIPLE = 8
RAFT_MIN_SIDE = 128
RAFT_ITERATIONS = 12


class FlowEstimator(Protocol):
    """Maps (current, previous) images (B, 3, H, W) in [-1, 1] to flows (B, 2, H, W) in pixels.

    For each pixel of ``current``, the flow points to where it came from in ``previous``.
    """

    def __call__(self, current: Tensor, previous: Tensor) -> Tensor: ...


def upsample_for_flow(lr_frame: Tensor, scale: int = 4) -> Tensor:
    """Bicubic x``scale`` upsampling of a [-1, 1] frame, unclamped (overshoot kept, as upstream)."""
    return F.interpolate(lr_frame.float(), scale_factor=scale, mode="bicubic", align_corners=False)


def backward_warp(image: Tensor, flow: Tensor) -> Tensor:
    """Sample ``image`` at pixel + flow with the reference's normalisation quirk.

    Positions are normalised by (size - 1) (align-corners style) but sampled with
    ``align_corners=False``. A zero flow therefore is not an identity: the image is stretched by
    W/(W-1) around the centre and the border rows/columns are half blended with zeros. The
    trained weights expect exactly this, so it is kept.
    """
    if flow.shape[0] != image.shape[0] or flow.shape[1] != 2 or flow.shape[2:] != image.shape[2:]:
        raise InputError(f"flow shape {tuple(flow.shape)} does not fit image {tuple(image.shape)}")
    _, _, height, width = image.shape
    ys, xs = torch.meshgrid(
        torch.arange(height, device=flow.device, dtype=torch.float32),
        torch.arange(width, device=flow.device, dtype=torch.float32),
        indexing="ij",
    )
    pos_x = xs + flow[:, 0].float()
    pos_y = ys + flow[:, 1].float()
    grid = torch.stack(
        [2.0 * pos_x / max(width - 1, 1) - 1.0, 2.0 * pos_y / max(height - 1, 1) - 1.0], dim=-1
    )
    warped = F.grid_sample(image.float(), grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    return warped


class RaftFlow:
    """RAFT-large wrapper: fp32, eval mode, no gradients, optional reduced-resolution mode."""

    def __init__(self, model: nn.Module, *, flow_scale: float = 1.0) -> None:
        if not 0.0 < flow_scale <= 1.0:
            raise InputError(f"flow_scale must be in (0, 1], got {flow_scale}")
        self.model = model.float().eval().requires_grad_(False)
        self.flow_scale = flow_scale

    @classmethod
    def from_weights(
        cls,
        weights_path: str | Path | None = None,
        *,
        device: torch.device | str = "cpu",
        flow_scale: float = 1.0,
    ) -> RaftFlow:
        """Build RAFT-large from a state-dict file, or torchvision's published weights (online)."""
        from torchvision.models.optical_flow import Raft_Large_Weights, raft_large

        if weights_path is None:
            model = raft_large(weights=Raft_Large_Weights.DEFAULT, progress=False)
        else:
            model = raft_large(weights=None, progress=False)
            try:
                model.load_state_dict(_read_raft_state_dict(Path(weights_path)), strict=True)
            except RuntimeError as exc:  # names the missing / mis-shaped tensors
                raise CheckpointError(f"RAFT weights {weights_path}: {exc}") from exc
        return cls(model.to(device), flow_scale=flow_scale)

    @torch.no_grad()
    def __call__(self, current: Tensor, previous: Tensor) -> Tensor:
        if self.flow_scale == 1.0:
            return self._raft(current, previous)
        return self._reduced_resolution_flow(current, previous)

    def check_output_size(self, height: int, width: int) -> None:
        """Raise early if frames of this output size cannot go through RAFT."""
        if self.flow_scale == 1.0:
            _check_raft_size(height, width)

    def _raft(self, current: Tensor, previous: Tensor) -> Tensor:
        _check_raft_size(*current.shape[-2:])
        flows = self.model(current.float(), previous.float(), num_flow_updates=RAFT_ITERATIONS)
        return flows[-1]

    def _reduced_resolution_flow(self, current: Tensor, previous: Tensor) -> Tensor:
        height, width = current.shape[-2:]
        size = (_flow_side(height, self.flow_scale), _flow_side(width, self.flow_scale))
        small = [
            F.interpolate(img.float(), size=size, mode="bicubic", align_corners=False)
            for img in (current, previous)
        ]
        flow = self._raft(small[0], small[1])
        flow = F.interpolate(flow, size=(height, width), mode="bilinear", align_corners=False)
        # Vectors are in pixels of the small image: rescale each axis to full-resolution pixels.
        factors = torch.tensor([width / size[1], height / size[0]], device=flow.device)
        return flow * factors.view(1, 2, 1, 1)


def _check_raft_size(height: int, width: int) -> None:
    if height % RAFT_MULTIPLE or width % RAFT_MULTIPLE or min(height, width) < RAFT_MIN_SIDE:
        raise InputError(
            f"RAFT needs sides >= {RAFT_MIN_SIDE} px divisible by {RAFT_MULTIPLE}, got {height}x{width} "
            "(low-res frames must be at least 32 px per side, or use a reduced flow_scale)"
        )


def _flow_side(side: int, scale: float) -> int:
    """Reduced side rounded up to RAFT's multiple and floor."""
    scaled = max(round(side * scale), RAFT_MIN_SIDE)
    return -(-scaled // RAFT_MULTIPLE) * RAFT_MULTIPLE


def _read_raft_state_dict(path: Path) -> dict[str, Tensor]:
    if not path.is_file():
        raise CheckpointError(f"RAFT weights file not found: {path}")
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        return load_file(str(path))
    state = torch.load(path, map_location="cpu", weights_only=True)
    if not isinstance(state, dict):
        raise CheckpointError(f"{path} does not hold a RAFT state dict")
    return state
