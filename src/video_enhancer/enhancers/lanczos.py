"""The classical fallback: Lanczos resampling plus a mild unsharp mask.

Used when no model weights are configured. It has no temporal state, so segments resume
trivially. Results produced with it are labelled as classical (see ``registry.ENHANCERS``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageFilter

from video_enhancer.enhancers.base import EnhancerError, EnhancerSession, Frame, Size


@dataclass(frozen=True)
class SharpenConfig:
    """Unsharp mask applied after upscaling; mild so it counters Lanczos softness without halos."""

    radius: float = 1.2
    percent: int = 60
    threshold: int = 2


class LanczosSession:
    def __init__(self, in_size: Size, out_size: Size, sharpen: SharpenConfig | None) -> None:
        self._in_size = in_size
        self._out_size = out_size
        self._filter = (
            ImageFilter.UnsharpMask(sharpen.radius, sharpen.percent, sharpen.threshold)
            if sharpen is not None
            else None
        )

    def enhance(self, frame: Frame) -> Frame:
        expected = (self._in_size[1], self._in_size[0], 3)
        if frame.shape != expected or frame.dtype != np.uint8:
            raise EnhancerError(
                f"Lanczos session expected a {expected} uint8 frame, got {frame.shape} {frame.dtype}."
            )
        image = Image.fromarray(frame, mode="RGB")
        if self._out_size != self._in_size:
            image = image.resize(self._out_size, Image.Resampling.LANCZOS)
        if self._filter is not None:
            image = image.filter(self._filter)
        return np.asarray(image, dtype=np.uint8)

    def state(self) -> bytes:
        return b""

    def close(self) -> None:
        return None


class LanczosEnhancer:
    """Classical resampler; any output size (``native_scale`` None)."""

    name = "lanczos"
    native_scale: int | None = None

    def __init__(self, sharpen: SharpenConfig | None = SharpenConfig()) -> None:
        self._sharpen = sharpen

    def open_session(self, in_size: Size, out_size: Size, state: bytes | None = None) -> EnhancerSession:
        if state:
            raise EnhancerError("The lanczos enhancer is stateless but was given resume state.")
        if min(*in_size, *out_size) <= 0:
            raise EnhancerError(f"Invalid sizes {in_size} -> {out_size}.")
        return LanczosSession(in_size, out_size, self._sharpen)
