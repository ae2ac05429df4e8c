"""Command line: ``python -m stream_diffvsr upscale --model DIR --input FRAMES --output OUT``.

Processes the PNG frames of a folder in name order as one video and writes one PNG per frame
under the same name. ``--save-raw`` also writes each unclamped output as float32 ``.npy``
(3, H, W) in [-1, 1]; ``--latents`` takes an (N, 4, h, w) ``.npy`` of initial latents. With these
two, any other implementation can be compared with this one frame by frame.

Frames follow the reference preprocessing: sizes not a multiple of 4 are Lanczos-resized down.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt
import torch
from PIL import Image

from .errors import InputError, StreamDiffVSRError
from .images import frame_to_tensor, resize_to_multiple, tensor_to_frame
from .pipeline import DEFAULT_STEPS, StreamDiffVSRPipeline

DTYPES = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m stream_diffvsr", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    up = commands.add_parser("upscale", help="x4 upscale a folder of PNG frames")
    up.add_argument("--model", required=True, help="checkpoint folder or hub id")
    up.add_argument("--input", required=True, type=Path, help="folder of PNG frames")
    up.add_argument("--output", required=True, type=Path, help="folder for the x4 PNG frames")
    up.add_argument("--flow-weights", type=Path, help="RAFT-large state dict (default: torchvision's)")
    up.add_argument("--steps", type=int, default=DEFAULT_STEPS)
    noise = up.add_mutually_exclusive_group()
    noise.add_argument("--seed", type=int, default=42)
    noise.add_argument("--latents", type=Path, help=".npy (N, 4, h, w) initial latents")
    up.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    up.add_argument("--dtype", choices=sorted(DTYPES), default="float32")
    up.add_argument("--save-raw", action="store_true", help="also write unclamped float32 .npy")
    up.add_argument(
        "--flow-scale",
        type=float,
        default=1.0,
        help="compute optical flow at this fraction of the output size (non-reference if < 1)",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        upscale_folder(args)
    except StreamDiffVSRError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


def upscale_folder(args: argparse.Namespace) -> None:
    frames = list_frames(args.input)
    latents = load_latents(args.latents, len(frames)) if args.latents else None
    pipeline = StreamDiffVSRPipeline.from_pretrained(
        args.model,
        flow_weights=args.flow_weights,
        device=args.device,
        dtype=DTYPES[args.dtype],
        flow_scale=args.flow_scale,
        num_inference_steps=args.steps,
    )
    state = pipeline.new_state(None if latents is not None else args.seed)
    args.output.mkdir(parents=True, exist_ok=True)
    for index, path in enumerate(frames):
        with Image.open(path) as image:
            lr = frame_to_tensor(np.asarray(resize_to_multiple(image.convert("RGB"))))
        initial = None if latents is None else torch.from_numpy(latents[index : index + 1])
        output = pipeline.upscale_frame(lr, state, initial)
        Image.fromarray(tensor_to_frame(output)).save(args.output / path.name)
        if args.save_raw:
            raw = output[0].float().cpu().numpy()
            np.save(args.output / f"{path.stem}.npy", raw)


def list_frames(folder: Path) -> list[Path]:
    if not folder.is_dir():
        raise InputError(f"input folder not found: {folder}")
    frames = sorted(p for p in folder.iterdir() if p.suffix.lower() == ".png")
    if not frames:
        raise InputError(f"no .png frames in {folder}")
    return frames


def load_latents(path: Path, frame_count: int) -> npt.NDArray[np.float32]:
    latents = np.load(path)
    if latents.ndim != 4 or latents.shape[1] != 4 or latents.shape[0] < frame_count:
        raise InputError(
            f"latents must have shape (N>={frame_count}, 4, h, w), got {latents.shape} in {path}"
        )
    return np.ascontiguousarray(latents, dtype=np.float32)
