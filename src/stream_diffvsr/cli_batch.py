"""``python -m stream_diffvsr upscale-batch``: several frame folders as batched streams.

``STREAMS.json`` is a list of ``{"input": DIR, "output": DIR, "seed": INT}`` or
``{"input": DIR, "output": DIR, "latents": FILE.npy}`` (neither: seed 42, as ``upscale``).
Paths are taken as given (relative ones from the current folder). Every stream is checked
before the first frame runs: folders, frame sizes (all frames of a stream share one size),
latents shapes, distinct output folders.

Each round takes the next frame of every stream that still has one, groups the streams by
frame size and runs at most ``--max-batch`` of them per forward pass; streams shorter than
others simply leave the batch when their frames run out.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import torch
from PIL import Image

from .cli import DEFAULT_SEED, list_frames, load_latents, load_pipeline, read_frame, write_output
from .errors import InputError
from .images import SIZE_MULTIPLE
from .pipeline import StreamDiffVSRPipeline
from .state import StreamState

STREAM_KEYS = {"input", "output", "seed", "latents"}


@dataclass
class StreamJob:
    """One video of the batch: its frames, where they go, its noise and its state."""

    frames: list[Path]
    output: Path
    size: tuple[int, int]
    """(height, width) of the frames fed to the model."""
    seed: int | None
    latents: npt.NDArray[np.float32] | None
    state: StreamState | None = None
    next_frame: int = 0

    @property
    def done(self) -> bool:
        return self.next_frame >= len(self.frames)

    def next_latents(self) -> torch.Tensor | None:
        if self.latents is None:
            return None
        return torch.from_numpy(self.latents[self.next_frame : self.next_frame + 1])


def upscale_streams(args: argparse.Namespace) -> None:
    if args.max_batch < 1:
        raise InputError(f"--max-batch must be >= 1, got {args.max_batch}")
    jobs = read_streams(args.streams)
    pipeline = load_pipeline(args)
    for job in jobs:
        job.state = pipeline.new_state(job.seed)
        job.output.mkdir(parents=True, exist_ok=True)
    while active := [job for job in jobs if not job.done]:
        for batch in plan_batches(active, args.max_batch):
            run_batch(pipeline, batch, save_raw=args.save_raw)


def plan_batches(active: list[StreamJob], max_batch: int) -> list[list[StreamJob]]:
    """Streams of one frame size together, at most ``max_batch`` per forward pass."""
    by_size: dict[tuple[int, int], list[StreamJob]] = {}
    for job in active:
        by_size.setdefault(job.size, []).append(job)
    return [
        group[start : start + max_batch]
        for group in by_size.values()
        for start in range(0, len(group), max_batch)
    ]


def run_batch(pipeline: StreamDiffVSRPipeline, batch: list[StreamJob], *, save_raw: bool) -> None:
    frames = [read_frame(job.frames[job.next_frame]) for job in batch]
    states = [job.state for job in batch if job.state is not None]
    outputs = pipeline.upscale_batch(frames, states, [job.next_latents() for job in batch])
    for job, output in zip(batch, outputs, strict=True):
        write_output(output, job.output, job.frames[job.next_frame].name, save_raw=save_raw)
        job.next_frame += 1


def read_streams(path: Path) -> list[StreamJob]:
    """Parse and check ``STREAMS.json`` completely before any model work."""
    try:
        entries = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise InputError(f"cannot read the streams file {path}: {exc}") from exc
    if not isinstance(entries, list) or not entries:
        raise InputError(f"{path} must hold a non-empty JSON list of streams")
    jobs = [read_stream(entry, index) for index, entry in enumerate(entries)]
    outputs = [job.output.resolve() for job in jobs]
    if len(set(outputs)) != len(outputs):
        raise InputError(f"two streams in {path} write to the same output folder")
    return jobs


def read_stream(entry: Any, index: int) -> StreamJob:
    where = f"stream {index}"
    if not isinstance(entry, dict) or not {"input", "output"} <= entry.keys():
        raise InputError(f'{where}: expected an object with "input" and "output"')
    if unknown := entry.keys() - STREAM_KEYS:
        raise InputError(f"{where}: unknown keys {sorted(unknown)}")
    if "seed" in entry and "latents" in entry:
        raise InputError(f'{where}: give either "seed" or "latents", not both')
    seed = entry.get("seed", DEFAULT_SEED)
    if "latents" not in entry and (not isinstance(seed, int) or isinstance(seed, bool)):
        raise InputError(f"{where}: seed must be an integer, got {seed!r}")
    frames = list_frames(Path(entry["input"]))
    size = common_model_size(frames, where)
    latents = load_latents(Path(entry["latents"]), len(frames)) if "latents" in entry else None
    if latents is not None and latents.shape[2:] != size:
        raise InputError(f"{where}: latents are {latents.shape[2:]}, frames are {size} (h, w)")
    return StreamJob(frames, Path(entry["output"]), size, None if latents is not None else seed, latents)


def common_model_size(frames: list[Path], where: str) -> tuple[int, int]:
    """The (h, w) every frame of a stream is fed at; the frames must share one size."""
    sizes = set()
    for frame in frames:
        with Image.open(frame) as image:
            sizes.add(image.size)
    if len(sizes) != 1:
        raise InputError(f"{where}: frames of one stream must share one size, got {sorted(sizes)}")
    width, height = sizes.pop()
    return height - height % SIZE_MULTIPLE, width - width % SIZE_MULTIPLE
