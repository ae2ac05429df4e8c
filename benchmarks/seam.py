"""The seam of a video split into segments run as parallel streams, per warm-up length W.

Each segment's stream starts W frames before its cut (warm-up frames enhanced and discarded;
the noise is the unsplit run's). The table gives, for each W, the mean |difference| between
the split and the unsplit output (in [-1, 1] units; 1/127.5 is one 8-bit level) at each frame
offset after a cut, averaged over the cuts, the largest difference at a cut, the largest
difference anywhere once written as 8-bit pictures, and the cost of the warm-up in extra frames.

    python benchmarks/seam.py                          # tiny random models, CPU
    python benchmarks/seam.py --model DIR --flow-weights raft.pth --clip frames/   # real weights

The clip is a synthetic pan over a smooth pattern unless ``--clip`` gives a folder of PNG frames.
With random weights the figures show the mechanism (W reaching back to frame 0 gives 0), not the
W the published weights need; rerun with the real weights and a real clip to choose W.
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from stream_diffvsr.cli import list_frames, read_frame
from stream_diffvsr.flow import RaftFlow
from stream_diffvsr.images import tensor_to_frame
from stream_diffvsr.loading import load_components
from stream_diffvsr.pipeline import StreamDiffVSRPipeline
from stream_diffvsr.segments import plan_segments, seam, upscale_split
from stream_diffvsr.testing import write_random_raft_weights, write_tiny_checkpoint

LEVEL = 2 / 255  # one 8-bit level in [-1, 1] units


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", type=Path, help="checkpoint folder (default: a tiny random one)")
    parser.add_argument("--flow-weights", type=Path, help="RAFT-large weights (default: random)")
    parser.add_argument("--clip", type=Path, help="folder of PNG frames (default: synthetic pan)")
    parser.add_argument("--frames", type=int, default=18)
    parser.add_argument("--segment-frames", type=int, default=6)
    parser.add_argument("--warmups", default="0,1,2,4")
    parser.add_argument("--size", type=int, default=32, help="side of the synthetic low-res clip")
    parser.add_argument("--threads", type=int, default=1)
    return parser.parse_args()


def synthetic_pan(count: int, side: int) -> list[Tensor]:
    """A smooth pattern moving one low-res pixel right and half a pixel down per frame."""
    ys, xs = torch.meshgrid(torch.arange(side).float(), torch.arange(side).float(), indexing="ij")
    frames = []
    for t in range(count):
        x, y = xs - t, ys - 0.5 * t
        channels = [torch.sin(x / 3.0 + k) * torch.cos(y / 4.0 - k) for k in range(3)]
        frames.append(torch.stack(channels).unsqueeze(0) * 0.8)
    return frames


def build_pipeline(args: argparse.Namespace, scratch: Path) -> StreamDiffVSRPipeline:
    model = args.model or write_tiny_checkpoint(scratch / "tiny")
    raft = args.flow_weights or write_random_raft_weights(scratch / "raft.pth")
    parts = load_components(model)
    flow = RaftFlow.from_weights(raft)
    return StreamDiffVSRPipeline(
        parts.unet, parts.controlnet, parts.vae, parts.scheduler, parts.prompt_embeds, flow
    )


def main() -> None:
    import tempfile

    args = parse_args()
    torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as scratch:
        pipeline = build_pipeline(args, Path(scratch))
        frames = (
            [read_frame(p) for p in list_frames(args.clip)][: args.frames]
            if args.clip
            else synthetic_pan(args.frames, args.size)
        )
        state = pipeline.new_state(seed=0)
        unsplit = [pipeline.upscale_frame(frame, state) for frame in frames]
        print(f"{len(frames)} frames, segments of {args.segment_frames}; mean |Δ| in 8-bit levels")
        offsets = " | ".join(f"+{k}" for k in range(args.segment_frames))
        print(f"| W | extra frames | {offsets} | max at +0 | max 8-bit |")
        print("|---|---|" + "---|" * (args.segment_frames + 2))
        for warmup in (int(w) for w in args.warmups.split(",")):
            segments = plan_segments(len(frames), args.segment_frames, warmup)
            split = upscale_split(pipeline, frames, segments, seed=0)
            extra = sum(s.start - s.first for s in segments)
            levels = [d / LEVEL for d in seam(unsplit, split, segments)]
            cells = " | ".join(f"{v:.3f}" if math.isfinite(v) else "n/a" for v in levels)
            at_cut = max(float((unsplit[c.start] - split[c.start]).abs().max()) for c in segments[1:]) / LEVEL
            worst = max(quantised_difference(a, b) for a, b in zip(unsplit, split, strict=True))
            print(f"| {warmup} | {extra} | {cells} | {at_cut:.3f} | {worst} |", flush=True)


def quantised_difference(a: Tensor, b: Tensor) -> int:
    """Largest difference in 8-bit levels once both outputs are written as 8-bit pictures."""
    return int(np.abs(tensor_to_frame(a).astype(int) - tensor_to_frame(b).astype(int)).max())


if __name__ == "__main__":
    main()
