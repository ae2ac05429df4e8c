"""Optical flow cost by resolution: RAFT-large at full output size (the reference) against the
reduced-resolution mode (``flow_scale < 1``), on the CPU or a GPU.

RAFT's all-pairs correlation volume grows with the square of the pixel count, so at 1080p
output and beyond it, not the diffusion models, sets the memory peak. Each configuration runs
in a fresh subprocess (random RAFT weights; cost does not depend on weight values) and reports
seconds per frame pair and peak memory: torch's peak allocation on CUDA, peak RSS on the CPU.

    .venv/bin/python benchmarks/flow_memory.py                       # 720p and 1080p, CPU
    .venv/bin/python benchmarks/flow_memory.py --device cuda --pairs 5
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time

SIZES = {"720p": (720, 1280), "1080p": (1072, 1920)}  # output sizes (1080p rounded as the model does)


def measure(size: str, flow_scale: float, device: str, pairs: int) -> dict[str, float]:
    import torch
    from torchvision.models.optical_flow import raft_large

    from stream_diffvsr.flow import RaftFlow

    torch.manual_seed(0)
    flow = RaftFlow(raft_large(weights=None, progress=False).eval().to(device), flow_scale=flow_scale)
    height, width = SIZES[size]
    frames = [torch.rand(1, 3, height, width, device=device) * 2 - 1 for _ in range(2)]
    flow(frames[0], frames[1])  # warm-up
    if device == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    started = time.perf_counter()
    for _ in range(pairs):
        flow(frames[0], frames[1])
    if device == "cuda":
        torch.cuda.synchronize()
        peak_gib = torch.cuda.max_memory_allocated() / 2**30
    else:
        peak_gib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    return {"seconds_per_pair": (time.perf_counter() - started) / pairs, "peak_gib": peak_gib}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--sizes", default="720p,1080p")
    parser.add_argument("--flow-scales", default="1.0,0.5,0.25")
    parser.add_argument("--pairs", type=int, default=2, help="timed frame pairs after one warm-up")
    parser.add_argument("--child", nargs=2, metavar=("SIZE", "SCALE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(measure(args.child[0], float(args.child[1]), args.device, args.pairs)))
        return
    print(f"RAFT-large flow, {args.device}, {args.pairs} timed pairs per configuration")
    print("| output | flow scale | RAFT input | s/pair | peak GiB |")
    print("|---|---|---|---|---|")
    for size in args.sizes.split(","):
        for scale in (float(s) for s in args.flow_scales.split(",")):
            child = [sys.executable, __file__, "--device", args.device, "--pairs", str(args.pairs)]
            done = subprocess.run([*child, "--child", size, str(scale)], capture_output=True, text=True)
            if done.returncode != 0:
                print(f"| {size} | {scale} | - | failed | {done.stderr.strip().splitlines()[-1]} |")
                continue
            result = json.loads(done.stdout.strip().splitlines()[-1])
            height, width = SIZES[size]
            raft_in = (
                f"{width}x{height}" if scale == 1.0 else f"~{round(width * scale)}x{round(height * scale)}"
            )
            print(
                f"| {size} | {scale:g}{' (reference)' if scale == 1.0 else ''} | {raft_in} "
                f"| {result['seconds_per_pair']:.2f} | {result['peak_gib']:.2f} |"
            )


if __name__ == "__main__":
    main()
