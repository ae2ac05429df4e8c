"""Fidelity of an output to its source: PSNR and SSIM at the source's size, on sampled frames.

The output is decoded downscaled to the source's upright size and compared with the source's own
frames. An enhancer adds detail the source does not have, so the numbers are not "quality"; they
say how faithful the result stays to what was filmed. A broken model (noise, swapped colours, a
black picture) lands far below any honest result, which is what the verification looks for.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from itertools import islice

import numpy as np
from numpy.typing import NDArray

from video_enhancer.media.decode import iter_frames
from video_enhancer.media.errors import MediaError
from video_enhancer.media.probe import MediaInfo

PSNR_CAP_DB = 100.0
"""Identical pictures have an infinite PSNR; the figure is capped so it stays a number in JSON."""
_SSIM_WINDOW = 7
_C1 = (0.01 * 255) ** 2
_C2 = (0.03 * 255) ** 2


@dataclass(frozen=True, slots=True)
class Fidelity:
    psnr_db: float
    """PSNR of the mean squared error over the sampled frames (RGB, 8-bit)."""
    ssim: float
    """Mean SSIM of the luma over the sampled frames."""
    frames: int

    def as_json(self) -> dict[str, float | int]:
        return {"psnrDb": round(self.psnr_db, 2), "ssim": round(self.ssim, 4), "sampledFrames": self.frames}


class OutputRejected(MediaError):
    default_code = "OUTPUT_REJECTED"
    default_message = "The enhanced video does not resemble the source; it was not delivered or charged."


@dataclass(frozen=True, slots=True)
class FidelityThresholds:
    min_psnr_db: float = 15.0
    min_ssim: float = 0.2


def check_fidelity(fidelity: Fidelity, thresholds: FidelityThresholds) -> None:
    """Refuse an absurd result (noise, swapped colours, a black picture): `OutputRejected`."""
    if fidelity.psnr_db < thresholds.min_psnr_db or fidelity.ssim < thresholds.min_ssim:
        raise OutputRejected(
            detail=f"PSNR {fidelity.psnr_db:.2f} dB (minimum {thresholds.min_psnr_db}), "
            f"SSIM {fidelity.ssim:.4f} (minimum {thresholds.min_ssim}) over {fidelity.frames} frames"
        )


def mean_squared_error(reference: NDArray[np.uint8], test: NDArray[np.uint8]) -> float:
    return float(np.mean((reference.astype(np.float64) - test.astype(np.float64)) ** 2))


def psnr_of_error(error: float) -> float:
    if error == 0:
        return PSNR_CAP_DB
    return min(PSNR_CAP_DB, 10 * math.log10(255.0**2 / error))


def psnr(reference: NDArray[np.uint8], test: NDArray[np.uint8]) -> float:
    return psnr_of_error(mean_squared_error(reference, test))


def _luma(image: NDArray[np.uint8]) -> NDArray[np.float64]:
    rgb = image.astype(np.float64)
    return 0.299 * rgb[..., 0] + 0.587 * rgb[..., 1] + 0.114 * rgb[..., 2]


def _box_mean(plane: NDArray[np.float64], size: int) -> NDArray[np.float64]:
    """Mean over every size x size window (valid positions only), from an integral image."""
    integral = np.pad(plane.cumsum(axis=0).cumsum(axis=1), ((1, 0), (1, 0)))
    below, left = integral[size:, :-size], integral[:-size, size:]
    total = integral[size:, size:] - below - left + integral[:-size, :-size]
    return total / (size * size)


def ssim(reference: NDArray[np.uint8], test: NDArray[np.uint8]) -> float:
    """SSIM of the luma with uniform 7x7 windows (Wang et al. 2004 constants)."""
    x, y = _luma(reference), _luma(test)
    size = min(_SSIM_WINDOW, *x.shape)
    mx, my = _box_mean(x, size), _box_mean(y, size)
    vx = _box_mean(x * x, size) - mx * mx
    vy = _box_mean(y * y, size) - my * my
    cov = _box_mean(x * y, size) - mx * my
    index = ((2 * mx * my + _C1) * (2 * cov + _C2)) / ((mx * mx + my * my + _C1) * (vx + vy + _C2))
    return float(index.mean())


def measure_fidelity(source: MediaInfo, output: MediaInfo, samples: int = 8) -> Fidelity:
    """Compare ``samples`` evenly spaced frames of ``output`` (downscaled) with ``source``."""
    size = (source.video.width, source.video.height)
    step = max(1, source.video.frame_count // max(1, samples))
    pairs = zip(iter_frames(source, size), iter_frames(output, size), strict=False)
    sampled = islice(pairs, 0, None, step)
    scores = [(mean_squared_error(a.image, b.image), ssim(a.image, b.image)) for a, b in sampled][:samples]
    if not scores:
        return Fidelity(0.0, 0.0, 0)
    # PSNR of the pooled error: a few identical (black) frames must not lift a broken result.
    return Fidelity(
        psnr_db=psnr_of_error(sum(s[0] for s in scores) / len(scores)),
        ssim=sum(s[1] for s in scores) / len(scores),
        frames=len(scores),
    )
