"""The streaming state carried from one frame to the next, and its exact byte format.

Everything that makes frame t depend on the past lives here: the previous low-resolution
frame, the previous unclamped high-resolution output, the frame index and the noise generator.
Model weights, the prompt embedding and the schedule are constants of the pipeline, not state.

Byte format: a safetensors blob (tensors stored bit for bit, dtype kept) whose metadata holds
the format tag and the frame index. A state restored from bytes continues exactly as the
uninterrupted run would.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import NamedTuple

import torch
from safetensors.torch import load as load_safetensors
from safetensors.torch import save as save_safetensors
from torch import Tensor

from .errors import StateError

STATE_FORMAT = "stream_diffvsr.state/1"


def seeded_generator(seed: int | None) -> torch.Generator:
    """CPU generator: the same seed gives the same noise on every device."""
    generator = torch.Generator(device="cpu")
    if seed is None:
        generator.seed()
    else:
        generator.manual_seed(seed)
    return generator


class StateCheckpoint(NamedTuple):
    generator_state: Tensor
    frame_index: int
    previous_lr: Tensor | None
    previous_hr: Tensor | None


@dataclass
class StreamState:
    """Mutable per-video state; :meth:`StreamDiffVSRPipeline.upscale_frame` advances it."""

    generator: torch.Generator = field(default_factory=lambda: seeded_generator(None))
    frame_index: int = 0
    """Position in the video of the next frame (a stream may start cold mid-video)."""
    previous_lr: Tensor | None = None
    """Previous low-res frame (1, 3, h, w), float32, [-1, 1]."""
    previous_hr: Tensor | None = None
    """Previous decoder output (1, 3, 4h, 4w), model dtype, unclamped."""

    @classmethod
    def start(cls, seed: int | None = None) -> StreamState:
        return cls(generator=seeded_generator(seed))

    @property
    def has_previous(self) -> bool:
        return self.previous_lr is not None and self.previous_hr is not None

    def checkpoint(self) -> StateCheckpoint:
        """What :meth:`rollback` needs to undo a frame that failed half-way (noise drawn, say)."""
        return StateCheckpoint(
            self.generator.get_state(), self.frame_index, self.previous_lr, self.previous_hr
        )

    def rollback(self, checkpoint: StateCheckpoint) -> None:
        self.generator.set_state(checkpoint.generator_state)
        self.frame_index = checkpoint.frame_index
        self.previous_lr, self.previous_hr = checkpoint.previous_lr, checkpoint.previous_hr

    def to_bytes(self) -> bytes:
        tensors = {"generator": self.generator.get_state()}
        if self.previous_lr is not None and self.previous_hr is not None:
            tensors["previous_lr"] = self.previous_lr.detach().contiguous().cpu()
            tensors["previous_hr"] = self.previous_hr.detach().contiguous().cpu()
        metadata = {"format": STATE_FORMAT, "frame_index": str(self.frame_index)}
        return save_safetensors(tensors, metadata=metadata)

    @classmethod
    def from_bytes(cls, data: bytes, device: torch.device | str = "cpu") -> StreamState:
        tensors, metadata = _read_blob(data)
        if metadata.get("format") != STATE_FORMAT:
            raise StateError(f"not a {STATE_FORMAT} state (format {metadata.get('format')!r})")
        generator = torch.Generator(device="cpu")
        try:
            generator.set_state(tensors["generator"])
            frame_index = int(metadata["frame_index"])
        except (KeyError, ValueError, RuntimeError) as exc:
            raise StateError(f"corrupt streaming state: {exc}") from exc
        previous = [tensors.get(name) for name in ("previous_lr", "previous_hr")]
        # A stream started cold mid-video has a frame index but no history yet: both or neither.
        if (previous[0] is None) != (previous[1] is None):
            raise StateError(f"state at frame {frame_index} has only one of the previous frame tensors")
        lr, hr = (None if t is None else t.to(device) for t in previous)
        return cls(generator=generator, frame_index=frame_index, previous_lr=lr, previous_hr=hr)


def _read_blob(data: bytes) -> tuple[dict[str, Tensor], dict[str, str]]:
    try:
        tensors = load_safetensors(data)
        header_len = int.from_bytes(data[:8], "little")
        metadata = json.loads(data[8 : 8 + header_len]).get("__metadata__", {})
    except Exception as exc:  # safetensors raises several unrelated types on garbage
        raise StateError(f"streaming state is not readable: {exc}") from exc
    return tensors, metadata
