"""Command line: ``python -m stream_diffvsr upscale`` and ``upscale-batch``.

``upscale --model DIR --input FRAMES --output OUT`` processes the PNG frames of a folder in name
order as one video and writes one PNG per frame under the same name. ``--save-raw`` also writes
each unclamped output as float32 ``.npy`` (3, H, W) in [-1, 1]; ``--latents`` takes an
(N, 4, h, w) ``.npy`` of initial latents. With these two, any other implementation can be
compared with this one frame by frame.

``upscale-batch --model DIR --streams STREAMS.json`` runs several such videos as batched
streams (see :mod:`stream_diffvsr.cli_batch`); each output folder holds exactly what ``upscale``
would have written for that video, up to float rounding.

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

DEFAULT_SEED = 42
DTYPES = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m stream_diffvsr", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    up = commands.add_parser("upscale", help="x4 upscale a folder of PNG frames")
    add_model_arguments(up)
    up.add_argument("--input", required=True, type=Path, help="folder of PNG frames")
    up.add_argument("--output", required=True, type=Path, help="folder for the x4 PNG frames")
    noise = up.add_mutually_exclusive_group()
    noise.add_argument("--seed", type=int, default=DEFAULT_SEED)
    noise.add_argument("--latents", type=Path, help=".npy (N, 4, h, w) initial latents")
    batch = commands.add_parser("upscale-batch", help="x4 upscale several frame folders as batched streams")
    add_model_arguments(batch)
    batch.add_argument(
        "--streams",
        required=True,
        type=Path,
        help='JSON list of {"input": DIR, "output": DIR, "seed": INT} or {..., "latents": FILE.npy}',
    )
    batch.add_argument("--max-batch", type=int, default=8, help="most streams in one forward pass")
    return parser


def add_model_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", required=True, help="checkpoint folder or hub id")
    parser.add_argument("--flow-weights", type=Path, help="RAFT-large state dict (default: torchvision's)")
    parser.add_argument("--steps", type=int, default=DEFAULT_STEPS)
    parser.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    parser.add_argument("--dtype", choices=sorted(DTYPES), default="float32")
    parser.add_argument("--save-raw", action="store_true", help="also write unclamped float32 .npy")
    parser.add_argument(
        "--flow-scale",
        type=float,
        default=1.0,
        help="compute optical flow at this fraction of the output size (non-reference if < 1)",
    )


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.command == "upscale-batch":
            from .cli_batch import upscale_streams

            upscale_streams(args)
        else:
            upscale_folder(args)
    except StreamDiffVSRError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


def upscale_folder(args: argparse.Namespace) -> None:
    frames = list_frames(args.input)
    latents = load_latents(args.latents, len(frames)) if args.latents else None
    pipeline = load_pipeline(args)
    state = pipeline.new_state(None if latents is not None else args.seed)
    args.output.mkdir(parents=True, exist_ok=True)
    for index, path in enumerate(frames):
        initial = None if latents is None else torch.from_numpy(latents[index : index + 1])
        output = pipeline.upscale_frame(read_frame(path), state, initial)
        write_output(output, args.output, path.name, save_raw=args.save_raw)


def load_pipeline(args: argparse.Namespace) -> StreamDiffVSRPipeline:
    return StreamDiffVSRPipeline.from_pretrained(
        args.model,
        flow_weights=args.flow_weights,
        device=args.device,
        dtype=DTYPES[args.dtype],
        flow_scale=args.flow_scale,
        num_inference_steps=args.steps,
    )


def read_frame(path: Path) -> torch.Tensor:
    """A PNG frame as a (1, 3, h, w) tensor, Lanczos-resized down to a multiple of 4."""
    with Image.open(path) as image:
        return frame_to_tensor(np.asarray(resize_to_multiple(image.convert("RGB"))))


def write_output(output: torch.Tensor, folder: Path, name: str, *, save_raw: bool) -> None:
    """The x4 PNG under the input frame's name, and with ``save_raw`` the unclamped ``.npy``."""
    Image.fromarray(tensor_to_frame(output)).save(folder / name)
    if save_raw:
        np.save(folder / f"{Path(name).stem}.npy", output[0].float().cpu().numpy())


def list_frames(folder: Path) -> list[Path]:
    if not folder.is_dir():
        raise InputError(f"input folder not found: {folder}")
    frames = sorted(p for p in folder.iterdir() if p.suffix.lower() == ".png")
    if not frames:
        raise InputError(f"no .png frames in {folder}")
    return frames


def load_latents(path: Path, frame_count: int) -> npt.NDArray[np.float32]:
    try:
        latents = np.load(path)
    except (OSError, ValueError) as exc:
        raise InputError(f"cannot read latents {path}: {exc}") from exc
    if latents.ndim != 4 or latents.shape[1] != 4 or latents.shape[0] < frame_count:
        raise InputError(
            f"latents must have shape (N>={frame_count}, 4, h, w), got {latents.shape} in {path}"
        )
    return np.ascontiguousarray(latents, dtype=np.float32)
