"""Real-ESRGAN enhancers: the x4plus RRDB network and the compact SRVGG networks.

The networks come from their published ``.pth`` files through ``spandrel``, which recognises
the architecture from the state dict's key names and builds it; nothing here defines a
network. Frames are independent (no state between frames), so a session resumes trivially.
Large frames are upscaled in tiles (see ``tiling.py``); the default pad is the network's
receptive radius, capped for the deep RRDB network, so compact networks tile without any
difference from a whole-frame run.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from spandrel import ImageModelDescriptor, ModelLoader, UnsupportedModelError

from video_enhancer.enhancers.base import EnhancerError, EnhancerSession, Frame, Size
from video_enhancer.enhancers.devices import resolve_device
from video_enhancer.enhancers.registry import EnhancerUnavailableError
from video_enhancer.enhancers.tiling import Tiling, receptive_radius, upscale_tiled

DEFAULT_TILE = 512
"""Tile side in input pixels; a 720p output (320x180 input) runs in one piece."""
MAX_TILE_PAD = 48
"""Context cap: the RRDB network sees ~350 px, far more than is worth recomputing per tile."""
DTYPES = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}


@dataclass(frozen=True, slots=True)
class NetworkShape:
    """What a weights file must contain to be the named model (checked after loading)."""

    architecture: str
    """spandrel's architecture id: ``ESRGAN`` (RRDB) or ``Compact`` (SRVGG)."""
    scale: int = 4
    num_conv: int | None = None
    """Body convolutions of a compact network (32 in general-x4v3, 16 in animevideov3)."""


def frame_to_tensor(frame: Frame, device: torch.device, dtype: torch.dtype) -> torch.Tensor:
    image = torch.from_numpy(frame).to(device).permute(2, 0, 1).unsqueeze(0)
    return image.to(dtype).div_(255.0)


def tensor_to_frame(image: torch.Tensor) -> Frame:
    pixels = image.squeeze(0).permute(1, 2, 0).float().clamp_(0, 1).mul_(255.0).round_()
    return np.ascontiguousarray(pixels.to(torch.uint8).cpu().numpy())


class RealESRGANSession:
    """Frames of one size; each frame is upscaled on its own."""

    def __init__(self, enhancer: RealESRGANEnhancer, in_size: Size) -> None:
        self._enhancer: RealESRGANEnhancer | None = enhancer
        self._in_size = in_size

    def enhance(self, frame: Frame) -> Frame:
        if self._enhancer is None:
            raise EnhancerError("The Real-ESRGAN session is closed.")
        width, height = self._in_size
        if frame.shape != (height, width, 3) or frame.dtype != np.uint8:
            expected = (height, width, 3)
            raise EnhancerError(f"Expected a {expected} uint8 frame, got {frame.shape} {frame.dtype}.")
        return self._enhancer.upscale_frame(frame)

    def state(self) -> bytes:
        return b""

    def close(self) -> None:
        self._enhancer = None


class RealESRGANEnhancer:
    """A Real-ESRGAN network loaded from its published weights file; subclasses name the model."""

    name = "realesrgan"
    native_scale: int | None = 4
    shape = NetworkShape("ESRGAN")

    def __init__(
        self,
        weights: Path | str | None = None,
        device: str = "auto",
        dtype: str = "auto",
        tile: int = DEFAULT_TILE,
        tile_pad: int | None = None,
    ) -> None:
        if weights is None:
            raise EnhancerUnavailableError(f"The {self.name} enhancer needs its weights file.")
        self.device = resolve_device(device)
        self.dtype = self._resolve_dtype(dtype)
        self.model = self._load(Path(weights))
        radius = receptive_radius(self.model.model)
        self.tiling = Tiling(tile, min(radius, MAX_TILE_PAD) if tile_pad is None else tile_pad)

    def open_session(self, in_size: Size, out_size: Size, state: bytes | None = None) -> EnhancerSession:
        width, height = in_size
        scale = self.model.scale
        if out_size != (width * scale, height * scale):
            raise EnhancerError(f"{self.name} upscales x{scale}: {in_size} cannot give {out_size}.")
        if state:
            raise EnhancerError(f"The {self.name} enhancer is stateless but was given resume state.")
        if min(width, height) <= 0:
            raise EnhancerError(f"Invalid input size {in_size}.")
        return RealESRGANSession(self, in_size)

    @torch.inference_mode()
    def upscale_frame(self, frame: Frame) -> Frame:
        image = frame_to_tensor(frame, self.device, self.dtype)
        try:
            output = upscale_tiled(self.model, image, self.model.scale, self.tiling)
        except torch.OutOfMemoryError as exc:
            raise EnhancerError(
                "The GPU ran out of memory; set a smaller VE_REALESRGAN_TILE.", detail=str(exc)
            ) from exc
        return tensor_to_frame(output)

    def _resolve_dtype(self, dtype: str) -> torch.dtype:
        if dtype == "auto":  # half precision is fast on GPUs and slow or missing on CPUs
            return torch.float16 if self.device.type == "cuda" else torch.float32
        if dtype not in DTYPES:
            raise EnhancerError(f"Unknown dtype {dtype!r}; choose auto or one of {', '.join(DTYPES)}.")
        return DTYPES[dtype]

    def _load(self, weights: Path) -> ImageModelDescriptor[Any]:
        if not weights.is_file():
            raise EnhancerUnavailableError(f"The {self.name} weights file {weights} does not exist.")
        try:
            descriptor = ModelLoader(device="cpu").load_from_file(weights)
        except (UnsupportedModelError, ValueError, RuntimeError, KeyError) as exc:
            raise EnhancerUnavailableError(
                f"{weights} is not a weights file spandrel can read.", detail=str(exc)
            ) from exc
        self._check_shape(descriptor, weights)
        assert isinstance(descriptor, ImageModelDescriptor)
        return descriptor.to(self.device).to(self.dtype).eval()

    def _check_shape(self, descriptor: Any, weights: Path) -> None:
        found = NetworkShape(
            descriptor.architecture.id,
            descriptor.scale,
            getattr(descriptor.model, "num_conv", None) if self.shape.num_conv is not None else None,
        )
        if found != self.shape:
            raise EnhancerUnavailableError(
                f"{weights} holds a {found.architecture} x{found.scale} network, not {self.name}.",
                detail=f"expected {self.shape}, found {found}",
            )


class RealESRGANx4PlusEnhancer(RealESRGANEnhancer):
    name = "realesrgan-x4plus"
    shape = NetworkShape("ESRGAN")


class RealESRGeneralx4v3Enhancer(RealESRGANEnhancer):
    name = "realesr-general-x4v3"
    shape = NetworkShape("Compact", num_conv=32)


class RealESRAnimeVideov3Enhancer(RealESRGANEnhancer):
    name = "realesr-animevideov3"
    shape = NetworkShape("Compact", num_conv=16)
