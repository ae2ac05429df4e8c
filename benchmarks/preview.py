"""What a free preview costs with Lanczos, and the fidelity Lanczos gets (the thresholds' basis).

1. Preview time: phone-like sources (landscape 720p and 1080p, a rotated portrait 1080p, each
   12 s at 30 fps with AAC sound) through `media.preview.make_preview` with the service's
   encoder settings (x264 `slow`, CRF 18) and `VE_PREVIEW_SECONDS` (3 s), once with the span
   chosen for detail (the whole source is scanned) and once with a given start. Prints wall
   seconds per preview for each plan's output height (FREE 720, PRO 1080).
2. Fidelity: the test clips of `tests/media/clips.py` (a rotated portrait phone clip and one with
   a black first second among them) through the whole pipeline with Lanczos at the FREE plan's
   720 px, measured as the worker measures an output (`media.quality`, 8 sampled frames); the
   broken enhancers of the tests (noise, swapped channels, black) on the same clips for contrast.

    PYTHONPATH=src:tests python benchmarks/preview.py [--skip-timing] [--skip-fidelity]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "tests"))

from media.clips import (  # noqa: E402
    BLACK_START,
    CFR,
    LONG,
    ODD,
    PHONE_PORTRAIT,
    ROTATED,
    VFR_B_FRAMES,
    ClipSpec,
    make_clip,
)
from media.fake_enhancers import BrokenEnhancer  # noqa: E402
from video_enhancer.enhancers.base import Enhancer  # noqa: E402
from video_enhancer.enhancers.lanczos import LanczosEnhancer  # noqa: E402
from video_enhancer.media.encode import EncoderSettings  # noqa: E402
from video_enhancer.media.pipeline import PipelineConfig, run_pipeline  # noqa: E402
from video_enhancer.media.preview import make_preview  # noqa: E402
from video_enhancer.media.probe import probe  # noqa: E402
from video_enhancer.media.quality import measure_fidelity  # noqa: E402

PREVIEW_SECONDS = 3.0
PLAN_HEIGHTS = {"FREE": 720, "PRO": 1080}
SOURCES = [
    ClipSpec(name="landscape-720p", width=1280, height=720, fps=30, seconds=12.0, audio_channels=2),
    ClipSpec(name="landscape-1080p", width=1920, height=1080, fps=30, seconds=12.0, audio_channels=2),
    ClipSpec(
        name="portrait-1080p-rotated",
        width=1920,
        height=1080,
        fps=30,
        seconds=12.0,
        audio_channels=2,
        rotation=90,
        black_seconds=1.0,
    ),
]
FIDELITY_CLIPS = [CFR, VFR_B_FRAMES, ROTATED, PHONE_PORTRAIT, BLACK_START, LONG, ODD]
JOB_ENCODER = EncoderSettings()  # what a job uses: x264 slow, CRF 18


def preview_timing(directory: Path) -> None:
    print(f"preview of {PREVIEW_SECONDS:g} s with Lanczos, x264 {JOB_ENCODER.preset} CRF {JOB_ENCODER.crf}")
    print(f"{'source':<24} {'plan':<5} {'output':>10} {'chosen span':>12} {'given start':>12}")
    for spec in SOURCES:
        info = probe(make_clip(directory, spec).path)
        for plan, height in PLAN_HEIGHTS.items():
            config = PipelineConfig(max_height=height, encoder=JOB_ENCODER)
            chosen = _timed_preview(info, config, directory / f"{spec.name}-{plan}-auto.mp4", None)
            given = _timed_preview(info, config, directory / f"{spec.name}-{plan}-at.mp4", 4.0)
            size = f"{given[1][0]}x{given[1][1]}"
            print(f"{spec.name:<24} {plan:<5} {size:>10} {chosen[0]:>11.1f}s {given[0]:>11.1f}s")


def _timed_preview(
    info: object, config: PipelineConfig, output: Path, start_s: float | None
) -> tuple[float, tuple[int, int]]:
    started = time.perf_counter()
    result = make_preview(
        info,  # type: ignore[arg-type]
        output,
        LanczosEnhancer(),
        config,
        seconds=PREVIEW_SECONDS,
        start_s=start_s,
        work_dir=output.parent,
    )
    return time.perf_counter() - started, result.pipeline.sizes.output


def fidelity(directory: Path) -> None:
    labels = ["lanczos", "noise", "swap", "black"]
    enhancers: list[Enhancer] = [LanczosEnhancer(), *(BrokenEnhancer(mode) for mode in labels[1:])]
    print("fidelity at the source's size, 8 sampled frames (PSNR dB / SSIM), output short side <= 720 px")
    print(f"{'clip':<16} {'source':>9} {'output':>9}  " + "  ".join(f"{label:>14}" for label in labels))
    config = PipelineConfig(max_height=720, encoder=EncoderSettings(preset="veryfast", crf=18))
    for spec in FIDELITY_CLIPS:
        info = probe(make_clip(directory, spec).path)
        cells, size = [], ""
        for label, enhancer in zip(labels, enhancers, strict=True):
            output = directory / f"{spec.name}-{label}.mp4"
            out = run_pipeline(info, output, enhancer, config, work_dir=directory)
            measured = measure_fidelity(info, probe(out.output), 8)
            cells.append(f"{measured.psnr_db:6.2f}/{measured.ssim:.4f}")
            size = f"{out.sizes.output[0]}x{out.sizes.output[1]}"
        source = f"{info.video.width}x{info.video.height}"
        print(f"{spec.name:<16} {source:>9} {size:>9}  " + "  ".join(f"{cell:>14}" for cell in cells))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--skip-timing", action="store_true")
    parser.add_argument("--skip-fidelity", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="preview-bench-") as scratch:
        if not args.skip_fidelity:
            fidelity(Path(scratch))
        if not args.skip_timing:
            preview_timing(Path(scratch))


if __name__ == "__main__":
    main()
