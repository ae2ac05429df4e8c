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
