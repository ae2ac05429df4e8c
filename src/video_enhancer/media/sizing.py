"""Output size policy.

Short side = min(plan maximum, scale x input short side), aspect ratio kept, both sides even
(yuv420p needs even sides). Sizes are for the upright picture (after rotation). "720p" and
"1080p" name the short side, so a portrait phone video (1080x1920) on a 1080p plan keeps its
1080 px width instead of shrinking to 608x1080; for landscape video this is the height.

For an enhancer with a fixed native scale (Stream-DiffVSR: 4x) the input is first resized
to the low-resolution size whose 4x lands on the output: LR = output / 4, rounded to the
nearest multiple of 4 (the model's U-Net and VAE need multiples of 4) and at least 32 px per
side (its optical flow needs at least 128 px on the 4x side). The model's output is then
resized exactly to the policy size when rounding made it differ (by at most a few pixels).
When LR equals the input size no pre-resize happens and the model sees the original pixels.
"""

from __future__ import annotations

from dataclasses import dataclass

from video_enhancer.enhancers.base import Size

MODEL_MULTIPLE = 4
MODEL_MIN_SIDE = 32


@dataclass(frozen=True)
class SizePlan:
    source: Size
    """Upright input size."""
    enhancer_input: Size
    """What the enhancer receives (the decoder resizes to it)."""
    enhancer_output: Size
    """What the enhancer returns."""
    output: Size
    """Final encoded size, the policy size."""

    @property
    def resizes_input(self) -> bool:
        return self.enhancer_input != self.source

    @property
    def resizes_output(self) -> bool:
        return self.enhancer_output != self.output


def _even(value: float) -> int:
    return max(2, 2 * round(value / 2))


def _multiple(value: float, multiple: int, minimum: int) -> int:
    return max(minimum, multiple * round(value / multiple))


def output_size(source: Size, max_height: int, scale: float = 4.0) -> Size:
    """The policy size for an upright ``source`` of (width, height); ``max_height`` bounds the short side."""
    width, height = source
    if width <= 0 or height <= 0 or max_height <= 0 or scale <= 0:
        raise ValueError(f"Invalid sizing input: source={source}, max_height={max_height}, scale={scale}")
    factor = min(max_height / min(width, height), scale)
    return _even(width * factor), _even(height * factor)


def plan_sizes(source: Size, max_height: int, native_scale: int | None, scale: float = 4.0) -> SizePlan:
    """Decide every size in the pipeline for this input, plan maximum and enhancer."""
    output = output_size(source, max_height, scale)
    if native_scale is None:
        return SizePlan(source, source, output, output)
    low = (
        _multiple(output[0] / native_scale, MODEL_MULTIPLE, MODEL_MIN_SIDE),
        _multiple(output[1] / native_scale, MODEL_MULTIPLE, MODEL_MIN_SIDE),
    )
    return SizePlan(source, low, (low[0] * native_scale, low[1] * native_scale), output)
