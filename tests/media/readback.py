"""Read outputs back for assertions: decoded frames, packet timestamps, ffmpeg's own view."""

from __future__ import annotations

import subprocess
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from media.clips import FFMPEG


def decoded_frames(path: Path) -> list[np.ndarray]:
    with av.open(str(path)) as container:
        return [frame.to_ndarray(format="rgb24") for frame in container.decode(video=0)]


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return float("inf") if mse == 0 else 10 * float(np.log10(255**2 / mse))


def assert_resumed_matches(resumed: list[np.ndarray], straight: list[np.ndarray], reused: int) -> None:
    """A resumed output against an uninterrupted one of the same input.

    The first ``reused`` frames come from pieces the resumed run copied, so they are identical.
    The rest were encoded by a fresh encoder, whose rate control started anew at the resume
    point: they differ only by encoding noise, and each is its own frame, not a neighbour.
    """
    assert len(resumed) == len(straight)
    assert all(np.array_equal(a, b) for a, b in zip(resumed[:reused], straight[:reused], strict=True))
    for k in range(reused, len(straight)):
        own = psnr(resumed[k], straight[k])
        assert own >= 40.0, f"frame {k}: {own:.1f} dB"
        for other in (k - 1, k + 1):
            if 0 <= other < len(straight) and psnr(straight[k], straight[other]) < 35.0:
                assert own > psnr(resumed[k], straight[other]), f"frame {k} looks like frame {other}"


def presentation_times(path: Path) -> list[Fraction]:
    """Every video packet's pts in seconds, sorted, relative to the first."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        times = sorted(p.pts * stream.time_base for p in container.demux(stream) if p.pts is not None)
    return [t - times[0] for t in times]


def decode_timestamps(path: Path) -> list[int]:
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        return [p.dts for p in container.demux(stream) if p.dts is not None]


def audio_packets(path: Path) -> list[tuple[int, int]]:
    """(pts, duration) of the first audio track's packets, in its time base."""
    with av.open(str(path)) as container:
        stream = container.streams.audio[0]
        return [(p.pts, p.duration) for p in container.demux(stream) if p.pts is not None]


def ffmpeg_upright_first_frame(path: Path, width: int, height: int) -> np.ndarray:
    """The first frame as the ffmpeg CLI shows it (it applies the display matrix itself)."""
    command = [
        FFMPEG,
        "-v",
        "error",
        "-i",
        str(path),
        "-frames:v",
        "1",
        "-f",
        "rawvideo",
        "-pix_fmt",
        "rgb24",
        "-",
    ]
    raw = subprocess.run(command, capture_output=True, check=True).stdout
    return np.frombuffer(raw, np.uint8).reshape(height, width, 3)


def red_quadrant(image: np.ndarray) -> tuple[int, int]:
    """(column half, row half) where the red marker's centre lies."""
    red = (image[..., 0] > 150) & (image[..., 2] < 100)
    rows, cols = np.nonzero(red)
    height, width = red.shape
    return int(cols.mean() >= width / 2), int(rows.mean() >= height / 2)
