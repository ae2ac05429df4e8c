"""Stream-DiffVSR speed and memory per batch size: seconds per frame per stream, fps, memory.

Full-size models with random weights (timing does not depend on weight values). For each batch
size B, B independent streams run as one batch (``upscale_batch``): frames 0 and 1 warm up,
then ``--frames`` steady-state rounds (flow + warp + 4 x (ControlNet + UNet) + temporal decode
for all B rows) are timed. "s/frame/stream" is the time of one round (what each stream waits
per output frame); "fps total" is B frames per round; "GPU busy" is the device's utilisation
sampled after the timed rounds (CUDA with pynvml only). "process CPU s/round" is the CPU time the
process spent per round: on a shared CPU it is the figure that does not depend on the load of
other processes (with ``--threads 1``, wall time minus waiting for a core).

    python benchmarks/model.py --device cuda --compile off,compile  # the real benchmark
    python benchmarks/model.py --tiny                              # CPU smoke test, tiny models
    python benchmarks/model.py --tiny --sizes tiny-s --dtypes float32 --flow-scales 1.0 \
        --threads 1 --frames 2 --batch-sizes 1,2,4,8,16            # the CPU figures of ADR 0009

Output sizes: 720p = 320x180 in -> 1280x720 out; "1080p" = 480x268 in -> 1920x1072 out (the
reference rounds 270 down to a multiple of 4). Peak memory is torch's peak allocation on CUDA,
and the process's peak resident set size on CPU (monotone over the whole run).
"""

from __future__ import annotations

import argparse
import itertools
import resource
import time
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torchvision.models.optical_flow import raft_large

from stream_diffvsr.configs import (
    PUBLISHED_SCHEDULER_CONFIG,
    TINY_UNET_CONFIG,
    DenoisingModels,
    build_published_models,
    build_scheduler,
    build_tiny_models,
)
from stream_diffvsr.flow import RaftFlow
from stream_diffvsr.pipeline import StreamDiffVSRPipeline
from stream_diffvsr.testing import random_frames

SIZES = {"720p": (180, 320), "1080p": (268, 480), "tiny-s": (32, 32), "tiny-m": (48, 64)}
DTYPES = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}


@dataclass(frozen=True)
class Result:
    size: str
    output: str
    dtype: str
    flow_scale: float
    compile_mode: str
    batch: int
    seconds_per_frame: float
    cpu_seconds_per_frame: float
    peak_gib: float
    busy_percent: float | None

    @property
    def fps_total(self) -> float:
        return self.batch / self.seconds_per_frame


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--tiny", action="store_true", help="tiny models and sizes (CPU smoke test)")
    parser.add_argument("--sizes", default=None, help="comma list from " + ",".join(SIZES))
    parser.add_argument("--dtypes", default="float32,float16,bfloat16")
    parser.add_argument("--flow-scales", default="1.0,0.25", help="1.0 = reference full-res RAFT")
    parser.add_argument(
        "--batch-sizes", default=None, help="streams per forward pass (default 1,2,4,8,16; --tiny: 1,4)"
    )
    parser.add_argument("--flow-batch", type=int, default=None, help="rows per RAFT call (default all)")
    parser.add_argument("--frames", type=int, default=5, help="timed frames after 2 warm-up frames")
    parser.add_argument("--threads", type=int, default=0, help="CPU threads for torch (0: default)")
    parser.add_argument(
        "--compile", default="off", help="comma list from off,compile,cuda-graphs (VE_MODEL_COMPILE)"
    )
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    device = torch.device(args.device)
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.backends.cuda.matmul.allow_tf32 = True  # as the reference does
    torch.backends.cudnn.allow_tf32 = True
    sizes = (args.sizes or ("tiny-s,tiny-m" if args.tiny else "720p,1080p")).split(",")
    models, embed_dim = build(args.tiny, device)
    raft = raft_large(weights=None, progress=False).to(device)
    results = []
    for dtype_name, scale, compile_mode in itertools.product(
        args.dtypes.split(","), (float(s) for s in args.flow_scales.split(",")), args.compile.split(",")
    ):
        pipeline = StreamDiffVSRPipeline(
            models.unet,
            models.controlnet,
            models.vae,
            build_scheduler(PUBLISHED_SCHEDULER_CONFIG),
            torch.randn(1, 77, embed_dim),
            RaftFlow(raft, flow_scale=scale),
            device=device,
            dtype=DTYPES[dtype_name],
            flow_batch=args.flow_batch,
        )
        if compile_mode != "off":
            pipeline.enable_compile(cuda_graphs=compile_mode == "cuda-graphs", max_batch=16)
        for size in sizes:
            for batch in batch_sizes(args):
                results.append(measure(pipeline, size, dtype_name, scale, compile_mode, batch, args.frames))
                print(format_row(results[-1]), flush=True)
    print_table(results, device, args)


def batch_sizes(args: argparse.Namespace) -> list[int]:
    return [int(b) for b in (args.batch_sizes or ("1,4" if args.tiny else "1,2,4,8,16")).split(",")]


def build(tiny: bool, device: torch.device) -> tuple[DenoisingModels, int]:
    torch.manual_seed(0)
    if tiny:
        return build_tiny_models(device), int(TINY_UNET_CONFIG["cross_attention_dim"])
    return build_published_models(device), 1024


def measure(
    pipeline: StreamDiffVSRPipeline,
    size: str,
    dtype: str,
    scale: float,
    compile_mode: str,
    batch: int,
    frames: int,
) -> Result:
    height, width = SIZES[size]
    videos = [
        [f.to(pipeline.device) for f in random_frames(frames + 2, height, width, seed=row)]
        for row in range(batch)
    ]
    states = [pipeline.new_state(seed=row) for row in range(batch)]
    sync = synchronizer(pipeline.device)
    reset_peak(pipeline.device)
    for t in range(2):
        pipeline.upscale_batch([video[t] for video in videos], states)
    sync()
    start, start_cpu = time.perf_counter(), time.process_time()
    for t in range(2, frames + 2):
        pipeline.upscale_batch([video[t] for video in videos], states)
    sync()
    seconds = (time.perf_counter() - start) / frames
    cpu_seconds = (time.process_time() - start_cpu) / frames
    output = f"{width * 4}x{height * 4}"
    memory = peak_gib(pipeline.device)
    return Result(
        size, output, dtype, scale, compile_mode, batch, seconds, cpu_seconds, memory, busy(pipeline.device)
    )


def busy(device: torch.device) -> float | None:
    """GPU utilisation over the last sample period, where the driver can tell."""
    if device.type != "cuda":
        return None
    try:
        return float(torch.cuda.utilization(device))
    except Exception:  # pynvml missing or no NVML: not measurable here
        return None


def synchronizer(device: torch.device) -> Callable[[], None]:
    if device.type == "cuda":
        return lambda: torch.cuda.synchronize(device)
    return lambda: None


def reset_peak(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats(device)


def peak_gib(device: torch.device) -> float:
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**30
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # KiB -> GiB


def format_row(r: Result) -> str:
    flow = "full (reference)" if r.flow_scale == 1.0 else f"x{r.flow_scale:g} (non-ref)"
    busy_text = "n/a" if r.busy_percent is None else f"{r.busy_percent:.0f}%"
    return (
        f"| {r.size} | {r.output} | {r.dtype} | {flow} | {r.compile_mode} | {r.batch} "
        f"| {r.seconds_per_frame:.3f} | {r.fps_total:.2f} | {r.cpu_seconds_per_frame:.3f} "
        f"| {r.peak_gib:.2f} | {busy_text} |"
    )


def print_table(results: list[Result], device: torch.device, args: argparse.Namespace) -> None:
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "CPU"
    print(
        f"\nStream-DiffVSR, {name}, {'tiny' if args.tiny else 'full-size'} random weights, "
        f"{args.frames} timed frames"
    )
    print(
        "| size | output | dtype | flow | compile | batch | s/frame/stream | fps total "
        "| process CPU s/round | peak GiB | GPU busy |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for r in results:
        print(format_row(r))


if __name__ == "__main__":
    main()
