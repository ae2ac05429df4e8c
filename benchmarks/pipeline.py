"""Media pipeline benchmarks: throughput against plain FFmpeg, and memory against video length.

    .venv/bin/python benchmarks/pipeline.py [--preset slow] [--reps 3]   # slow: the production default

1. Overhead: our pipeline with a pass-through-plus-resize enhancer (swscale Lanczos on RGB)
   against ONE ffmpeg command doing the same Lanczos resize and the same libx264 encode, on
   the same clip, alternating, several repetitions. Prints medians and the throughput ratio
   (goal: ours / ffmpeg >= 0.8).
2. Memory: peak RSS (ru_maxrss) of the full pipeline (lanczos enhancer, audio, segments) on a
   10 s and a 60 s clip, each in a fresh subprocess (goal: within 10 % of each other).

The ffmpeg binary is the one in the imageio-ffmpeg wheel; its FFmpeg/x264 build is not the one
inside PyAV, so small differences in encoder speed are part of what is measured.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import av
import imageio_ffmpeg
from av.video.reformatter import Interpolation, VideoReformatter

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from video_enhancer.enhancers.base import EnhancerSession, Frame, Size  # noqa: E402
from video_enhancer.media.encode import EncoderSettings  # noqa: E402
from video_enhancer.media.pipeline import PipelineConfig, run_pipeline  # noqa: E402
from video_enhancer.media.probe import probe  # noqa: E402
from video_enhancer.media.sizing import output_size  # noqa: E402

FFMPEG = imageio_ffmpeg.get_ffmpeg_exe()


class _ResizeSession:
    def __init__(self, out_size: Size) -> None:
        self._out_size = out_size
        # One reformatter per step keeps its swscale context (built once, not once per frame).
        self._to_planar, self._scale, self._to_packed = (
            VideoReformatter(),
            VideoReformatter(),
            VideoReformatter(),
        )

    def enhance(self, frame: Frame) -> Frame:
        # swscale scales planar RGB several times faster than packed rgb24.
        planar = self._to_planar.reformat(av.VideoFrame.from_ndarray(frame, format="rgb24"), format="gbrp")
        width, height = self._out_size
        scaled = self._scale.reformat(planar, width=width, height=height, interpolation=Interpolation.LANCZOS)
        return self._to_packed.reformat(scaled, format="rgb24").to_ndarray()

    def state(self) -> bytes:
        return b""

    def close(self) -> None:
        return None


class ResizeEnhancer:
    """Pass-through plus resize: the cheapest possible enhancer, so only pipeline cost remains."""

    name = "resize"
    native_scale: int | None = None

    def open_session(self, in_size: Size, out_size: Size, state: bytes | None = None) -> EnhancerSession:
        return _ResizeSession(out_size)


def make_clip(path: Path, size: str, fps: int, seconds: int, audio: bool) -> Path:
    args = [FFMPEG, "-v", "error", "-y", "-f", "lavfi", "-i", f"testsrc2=s={size}:r={fps}"]
    if audio:
        args += ["-f", "lavfi", "-i", "sine=f=440:r=48000", "-c:a", "aac"]
    args += ["-t", str(seconds), "-c:v", "libx264", "-preset", "veryfast", "-crf", "20", str(path)]
    subprocess.run(args, check=True, capture_output=True)
    return path


def run_ours(clip: Path, output: Path, max_height: int, preset: str) -> float:
    info = probe(clip)
    config = PipelineConfig(max_height=max_height, encoder=EncoderSettings(preset=preset, crf=18))
    started = time.perf_counter()
    run_pipeline(info, output, ResizeEnhancer(), config)
    return time.perf_counter() - started


def run_ffmpeg(clip: Path, output: Path, size: Size, preset: str) -> float:
    args = [
        FFMPEG,
        "-v",
        "error",
        "-y",
        "-i",
        str(clip),
        "-an",
        "-vf",
        f"scale={size[0]}:{size[1]}:flags=lanczos",
        "-c:v",
        "libx264",
        "-preset",
        preset,
        "-crf",
        "18",
        "-pix_fmt",
        "yuv420p",
        "-color_primaries",
        "bt709",
        "-color_trc",
        "bt709",
        "-colorspace",
        "bt709",
        "-movflags",
        "+faststart",
        str(output),
    ]
    started = time.perf_counter()
    subprocess.run(args, check=True, capture_output=True)
    return time.perf_counter() - started


def overhead(work: Path, args: argparse.Namespace) -> None:
    clip = make_clip(work / "overhead.mp4", args.size, args.fps, args.seconds, audio=False)
    info = probe(clip)
    size = output_size((info.video.width, info.video.height), args.max_height)
    frames = info.video.frame_count
    ours, theirs = [], []
    for _ in range(args.reps):
        theirs.append(run_ffmpeg(clip, work / "ffmpeg.mp4", size, args.preset))
        ours.append(run_ours(clip, work / "ours.mp4", args.max_height, args.preset))
    ours_fps, ffmpeg_fps = frames / statistics.median(ours), frames / statistics.median(theirs)
    print(
        f"overhead: {args.size} -> {size[0]}x{size[1]}, {frames} frames, libx264 preset {args.preset} crf 18"
    )
    print(f"  ffmpeg   median {statistics.median(theirs):6.2f} s  {ffmpeg_fps:6.1f} fps  runs {_fmt(theirs)}")
    print(f"  pipeline median {statistics.median(ours):6.2f} s  {ours_fps:6.1f} fps  runs {_fmt(ours)}")
    print(f"  throughput ratio pipeline/ffmpeg = {ours_fps / ffmpeg_fps:.2f} (goal >= 0.80)")


def _fmt(values: list[float]) -> str:
    return ", ".join(f"{v:.2f}" for v in values)


def memory(work: Path, args: argparse.Namespace) -> None:
    peaks = {}
    for seconds in (10, 60):
        clip = make_clip(work / f"memory-{seconds}.mp4", args.memory_size, args.fps, seconds, audio=True)
        child = subprocess.run(
            [sys.executable, __file__, "--memory-child", str(clip), "--preset", args.preset],
            check=True,
            capture_output=True,
            text=True,
        )
        peaks[seconds] = json.loads(child.stdout.strip().splitlines()[-1])
    for seconds, peak in peaks.items():
        print(
            f"memory: {seconds:2d} s clip ({peak['frames']} frames -> {peak['size']}): "
            f"peak RSS {peak['max_rss_mib']:.1f} MiB, {peak['seconds']:.1f} s"
        )
    growth = peaks[60]["max_rss_mib"] / peaks[10]["max_rss_mib"] - 1
    print(f"  60 s vs 10 s peak RSS: {growth * 100:+.1f} % (goal within 10 %)")


def memory_child(clip: Path, preset: str) -> None:
    from video_enhancer.enhancers.lanczos import LanczosEnhancer

    info = probe(clip)
    config = PipelineConfig(max_height=720, encoder=EncoderSettings(preset=preset))
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as work:
        result = run_pipeline(info, Path(work) / "out.mp4", LanczosEnhancer(), config)
    max_rss_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(
        json.dumps(
            {
                "max_rss_mib": max_rss_kib / 1024,
                "frames": result.frames,
                "size": "x".join(map(str, result.sizes.output)),
                "seconds": time.perf_counter() - started,
            }
        )
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--preset", default="slow")
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--size", default="480x270", help="overhead clip size (output: policy size)")
    parser.add_argument("--memory-size", default="320x180", help="memory clip size")
    parser.add_argument("--fps", type=int, default=24)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--max-height", type=int, default=720)
    parser.add_argument("--only", choices=["overhead", "memory"])
    parser.add_argument("--memory-child", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.memory_child:
        memory_child(args.memory_child, args.preset)
        return
    with tempfile.TemporaryDirectory() as work:
        if args.only in (None, "overhead"):
            overhead(Path(work), args)
        if args.only in (None, "memory"):
            memory(Path(work), args)


if __name__ == "__main__":
    main()
