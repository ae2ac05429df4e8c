"""Real-ESRGAN speed at 720p output and what tiling does to the output.

Writes random weights in the published file layouts (the real weights give the same speed: the
networks are the same), loads them through the service's enhancers and upscales 320x180 frames
to 1280x720. Prints, per model, the median frames per second over RUNS runs of FRAMES frames,
and the largest difference (uint8 levels) between a tiled and a whole-frame run of the same
frame with the default tile pad.

    .venv/bin/python benchmarks/realesrgan.py                      # CPU, the compact models
    .venv/bin/python benchmarks/realesrgan.py --models realesrgan-x4plus --device cuda --json
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "tests"))

from factories import write_realesrgan_weights  # noqa: E402
from video_enhancer.enhancers import get_enhancer  # noqa: E402

IN_SIZE = (320, 180)  # x4 = 1280x720
COMPACT = ["realesr-general-x4v3", "realesr-animevideov3"]


def frames_per_second(enhancer: Any, frames: int, runs: int) -> float:
    frame = np.random.default_rng(0).integers(0, 256, (IN_SIZE[1], IN_SIZE[0], 3), dtype=np.uint8)
    out_size = (IN_SIZE[0] * 4, IN_SIZE[1] * 4)
    session = enhancer.open_session(IN_SIZE, out_size)
    session.enhance(frame)  # warm-up
    rates = []
    for _ in range(runs):
        started = time.perf_counter()
        for _ in range(frames):
            session.enhance(frame)
        rates.append(frames / (time.perf_counter() - started))
    return statistics.median(rates)


def tiling_difference(name: str, weights: Path, device: str, tile: int) -> int:
    frame = np.random.default_rng(1).integers(0, 256, (IN_SIZE[1], IN_SIZE[0], 3), dtype=np.uint8)
    out_size = (IN_SIZE[0] * 4, IN_SIZE[1] * 4)
    whole = get_enhancer(name, weights=weights, device=device, tile=0)
    tiled = get_enhancer(name, weights=weights, device=device, tile=tile)
    a = whole.open_session(IN_SIZE, out_size).enhance(frame).astype(int)
    b = tiled.open_session(IN_SIZE, out_size).enhance(frame).astype(int)
    return int(np.abs(a - b).max())


def measure(name: str, folder: Path, args: argparse.Namespace) -> dict[str, Any]:
    weights = write_realesrgan_weights(folder / f"{name}.pth", name)
    enhancer = get_enhancer(name, weights=weights, device=args.device)
    return {
        "model": name,
        "device": str(enhancer.device),  # type: ignore[attr-defined]
        "threads": torch.get_num_threads(),
        "fps_720p": round(frames_per_second(enhancer, args.frames, args.runs), 3),
        "tile": args.tile,
        "tile_pad": enhancer.tiling.pad,  # type: ignore[attr-defined]
        "tiled_max_difference_uint8": tiling_difference(name, weights, args.device, args.tile),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=COMPACT)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--frames", type=int, default=3)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--tile", type=int, default=96, help="tile side for the tiling comparison")
    parser.add_argument("--threads", type=int, default=0, help="CPU threads (0: torch's default)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as folder:
        results = [measure(name, Path(folder), args) for name in args.models]
    for result in results:
        if args.json:
            print(json.dumps(result))
        else:
            print(
                f"{result['model']}: {result['fps_720p']} frames/s at 1280x720 on {result['device']} "
                f"({result['threads']} threads); tiled ({result['tile']} px, pad {result['tile_pad']}) "
                f"vs whole frame: max difference {result['tiled_max_difference_uint8']} levels"
            )


if __name__ == "__main__":
    main()
