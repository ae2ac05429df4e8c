"""Clips that try to get more work than they pay for (see test_media_limits.py)."""

from __future__ import annotations

from pathlib import Path

from media.clips import run_ffmpeg


def one_frame_with_long_audio(directory: Path, frame_seconds: float) -> Path:
    """One picture shown for ``frame_seconds``, with 600 s of (silent, 8 kHz) audio."""
    video, audio = directory / f"frame-{frame_seconds:g}.mp4", directory / "silence.m4a"
    run_ffmpeg(
        ["-f", "lavfi", "-i", f"color=c=gray:s=64x36:r=1/{frame_seconds:g}", "-frames:v", "1",
         "-c:v", "libx264", "-preset", "ultrafast", str(video)]
    )  # fmt: skip
    run_ffmpeg(
        [
            "-t",
            "600",
            "-f",
            "lavfi",
            "-i",
            "anullsrc=r=8000:cl=mono",
            "-c:a",
            "aac",
            "-b:a",
            "16k",
            str(audio),
        ]
    )
    path = directory / f"one-frame-{frame_seconds:g}.mp4"
    run_ffmpeg(["-i", str(video), "-i", str(audio), "-c", "copy", str(path)])
    return path


def one_frame_lasting(directory: Path, seconds: int) -> Path:
    path = directory / f"lone-frame-{seconds}.mp4"
    run_ffmpeg(
        ["-f", "lavfi", "-i", f"color=c=gray:s=64x36:r=1/{seconds}", "-frames:v", "1",
         "-c:v", "libx264", "-preset", "ultrafast", str(path)]
    )  # fmt: skip
    return path


def fast_clip(directory: Path, fps: int, seconds: float, size: str = "64x36") -> Path:
    path = directory / f"fast-{fps}-{size}.mp4"
    run_ffmpeg(
        ["-f", "lavfi", "-i", f"testsrc2=s={size}:r={fps}", "-t", str(seconds),
         "-c:v", "libx264", "-preset", "ultrafast", str(path)]
    )  # fmt: skip
    return path
