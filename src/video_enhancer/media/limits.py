"""Work one video may ask for per charged minute; the probe refuses anything above, before decoding
(pixels from the header, frame rate and count from the packets) or, for the frames a field-rate
deinterlace doubles, before any enhancement."""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction

from video_enhancer.media.errors import FrameRateTooHigh, FrameTooLarge, TooManyFrames
from video_enhancer.media.timestamps import median_interval


@dataclass(frozen=True)
class MediaLimits:
    max_pixels: int = 4096 * 2304
    """Coded width x height of the input."""
    max_frame_rate: float = 120.0
    """Frames per second of the input, average and usual (median interval)."""
    max_frames_per_minute: int = 7200
    """Frames to enhance (fields for interlaced video at field rate) per charged minute."""


def charged_minutes(seconds: float) -> int:
    return max(1, math.ceil(seconds / 60))


def check_pixels(width: int, height: int, limits: MediaLimits | None) -> None:
    if limits is not None and width * height > limits.max_pixels:
        raise FrameTooLarge(
            detail=f"{width}x{height}: {width * height} pixels per frame, at most {limits.max_pixels}"
        )


@dataclass(frozen=True)
class PacketCounts:
    """What the demuxer alone says about the video (nothing decoded)."""

    time_base: Fraction
    packets: int
    times: list[int]
    """Sorted timestamps of the packets that have one."""
    declared_rate: Fraction
    audio_s: float
    """How long the audio lasts (0 without)."""


def check_packets(counts: PacketCounts, limits: MediaLimits | None) -> None:
    """Too fast (on average or usually), or too many frames per charged minute."""
    if limits is None:
        return
    times, time_base = counts.times, counts.time_base
    span = (times[-1] - times[0]) * time_base if len(times) > 1 else Fraction(0)
    usual = median_interval(times) * time_base
    rates = [
        Fraction(len(times) - 1) / span if span > 0 else Fraction(0),
        1 / usual if usual > 0 else counts.declared_rate,
    ]
    if max(rates) > Fraction(limits.max_frame_rate):
        raise FrameRateTooHigh(
            detail=f"{float(max(rates)):.1f} frames per second, at most {limits.max_frame_rate:g}"
        )
    if span <= 0 and counts.declared_rate > 0:  # no timestamps: the stream's own rate says how long
        span = counts.packets / counts.declared_rate
    check_frames(counts.packets, max(float(span), counts.audio_s), limits)


def check_frames(frames: int, measured_s: float, limits: MediaLimits | None) -> None:
    minutes = charged_minutes(measured_s)
    if limits is not None and frames > limits.max_frames_per_minute * minutes:
        raise TooManyFrames(
            detail=f"{frames} frames over {minutes} charged minute(s), "
            f"at most {limits.max_frames_per_minute} per minute"
        )
