"""Measured duration (a long last frame or long audio cannot hide) and the media limits."""

from __future__ import annotations

from pathlib import Path

import pytest

from media.clips import run_ffmpeg
from media.limit_clips import fast_clip, one_frame_lasting, one_frame_with_long_audio
from video_enhancer.media.errors import FrameRateTooHigh, FrameTooLarge, TooManyFrames
from video_enhancer.media.limits import MediaLimits
from video_enhancer.media.probe import ProbeOptions, probe


@pytest.mark.parametrize("frame_seconds", [0.04, 600])
def test_duration_is_the_later_of_video_and_audio(tmp_path: Path, frame_seconds: float) -> None:
    info = probe(one_frame_with_long_audio(tmp_path, frame_seconds))
    assert info.video.frame_count == 1
    assert info.duration_s == pytest.approx(600, abs=0.2)
    assert info.video.duration_s <= 0.1 + 1e-9


def test_a_lone_frame_counts_for_at_most_a_tenth_of_a_second(tmp_path: Path) -> None:
    info = probe(one_frame_lasting(tmp_path, 600))
    assert info.duration_s == pytest.approx(0.1, abs=1e-3)


def test_a_thousand_frames_per_second_is_refused(tmp_path: Path) -> None:
    with pytest.raises(FrameRateTooHigh) as caught:
        probe(fast_clip(tmp_path, 1000, 2))
    assert caught.value.code == "FRAME_RATE_TOO_HIGH"


def test_a_picture_above_the_pixel_limit_is_refused_before_decoding(tmp_path: Path) -> None:
    path = tmp_path / "huge.mp4"
    run_ffmpeg(
        ["-f", "lavfi", "-i", "color=c=black:s=8192x4320:r=1", "-frames:v", "3",
         "-c:v", "libx264", "-preset", "ultrafast", str(path)]
    )  # fmt: skip
    with pytest.raises(FrameTooLarge) as caught:
        probe(path)
    assert caught.value.code == "FRAME_TOO_LARGE" and "8192x4320" in caught.value.detail


def test_limits_are_settings(tmp_path: Path) -> None:
    clip = fast_clip(tmp_path, 30, 1)
    probe(clip)  # within the defaults
    with pytest.raises(FrameTooLarge):
        probe(clip, ProbeOptions(limits=MediaLimits(max_pixels=64 * 36 - 1)))
    with pytest.raises(FrameRateTooHigh):
        probe(clip, ProbeOptions(limits=MediaLimits(max_frame_rate=29)))
    with pytest.raises(TooManyFrames) as caught:
        probe(clip, ProbeOptions(limits=MediaLimits(max_frames_per_minute=29)))
    assert caught.value.code == "TOO_MANY_FRAMES"


WEAVE_TOP_FIRST = "tinterlace=mode=interleave_top,setfield=tff"


def test_frame_limit_counts_fields_when_deinterlacing(tmp_path: Path) -> None:
    path = tmp_path / "interlaced.mpg"
    run_ffmpeg(
        ["-t", "1", "-f", "lavfi", "-i", f"testsrc2=s=320x240:r=50,{WEAVE_TOP_FIRST}",
         "-c:v", "mpeg2video", "-flags", "+ilme+ildct", "-b:v", "2M", str(path)]
    )  # fmt: skip
    limits = MediaLimits(max_frames_per_minute=40)  # 25 frames pass, 50 fields do not
    assert probe(path, ProbeOptions(limits=limits, deinterlace="frame")).video.frame_count == 25
    with pytest.raises(TooManyFrames):
        probe(path, ProbeOptions(limits=limits, deinterlace="field"))
