"""Conversions between uint8 RGB frames and the model's [-1, 1] tensors (reference conventions)."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import torch
from PIL import Image
from torch import Tensor

from .errors import InputError

# The reference's image processor rounds frame sizes down to this multiple (vae_scale_factor).
SIZE_MULTIPLE = 4
SCALE = 4


def resize_to_multiple(image: Image.Image, multiple: int = SIZE_MULTIPLE) -> Image.Image:
    """Reference preprocessing: Lanczos-resize down to the nearest multiple (no-op if already one)."""
    width, height = image.size
    target = (width - width % multiple, height - height % multiple)
    if min(target) <= 0:
        raise InputError(f"frame {width}x{height} is smaller than {multiple} pixels")
    if target == image.size:
        return image
    return image.resize(target, resample=Image.Resampling.LANCZOS)


def frame_to_tensor(frame: npt.NDArray[np.uint8]) -> Tensor:
    """(h, w, 3) uint8 RGB -> (1, 3, h, w) float32 in [-1, 1]."""
    if frame.ndim != 3 or frame.shape[2] != 3 or frame.dtype != np.uint8:
        raise InputError(f"expected an (h, w, 3) uint8 RGB frame, got {frame.shape} {frame.dtype}")
    unit = frame.astype(np.float32) / 255.0
    return torch.from_numpy(2.0 * unit - 1.0).permute(2, 0, 1).unsqueeze(0).contiguous()


def tensor_to_frame(image: Tensor) -> npt.NDArray[np.uint8]:
    """(1, 3, H, W) in [-1, 1] (unclamped) -> (H, W, 3) uint8, clamped and rounded like the reference."""
    unit = (image.detach().float() * 0.5 + 0.5).clamp(0, 1)
    array = unit[0].permute(1, 2, 0).cpu().numpy()
    return np.ascontiguousarray((array * 255).round().astype(np.uint8))
