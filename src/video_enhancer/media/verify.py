"""Prove an output is right before anyone is charged for it.

Reading the output back with the probe decodes every frame: an output a player could not decode
to the end fails here as "not readable".
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from video_enhancer.enhancers.base import Size
from video_enhancer.media.errors import InvalidVideo, OutputVerificationFailed, UnsupportedCodec
from video_enhancer.media.probe import MediaInfo, ProbeOptions, probe

# Our outputs are progressive and within limits by construction: read them as they are.
READ_BACK = ProbeOptions(limits=None, deinterlace=None)


@dataclass(frozen=True)
class VerifiedOutput:
    info: MediaInfo
    decoded_frames: int


def verify_output(source: MediaInfo, output: str | os.PathLike[str], expected_size: Size) -> VerifiedOutput:
    """Raise OutputVerificationFailed unless ``output`` matches ``source`` and the size policy."""
    try:
        result = probe(output, READ_BACK)
    except (InvalidVideo, UnsupportedCodec) as exc:
        raise OutputVerificationFailed("The enhanced video is not readable.", detail=str(exc)) from exc
    problems = _compare(source, result, expected_size)
    if problems:
        raise OutputVerificationFailed(detail="; ".join(problems))
    # The probe decoded every frame (a decode error there is "not readable" above).
    return VerifiedOutput(result, result.video.frame_count)


def _compare(source: MediaInfo, output: MediaInfo, expected_size: Size) -> list[str]:
    problems = []
    frame = 1 / float(source.video.frame_rate) if source.video.frame_rate else 0.0
    video_s = source.video.duration_s
    if abs(output.video.duration_s - video_s) > frame + 1e-6:
        problems.append(f"duration {output.video.duration_s:.3f}s, input video {video_s:.3f}s")
    if output.duration_s > video_s + frame + 1e-6:
        problems.append(f"audio runs to {output.duration_s:.3f}s, past the video's {video_s:.3f}s")
    if output.video.frame_count != source.video.frame_count:
        problems.append(f"{output.video.frame_count} frames, input {source.video.frame_count}")
    if output.has_audio != source.has_audio:
        problems.append(f"audio present: {output.has_audio}, in input: {source.has_audio}")
    if (output.video.width, output.video.height) != tuple(expected_size):
        problems.append(f"size {output.video.width}x{output.video.height}, expected {expected_size}")
    return problems
