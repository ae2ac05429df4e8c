"""Upscaling a large frame in tiles without seams.

Each tile is run on a window that reaches ``pad`` input pixels beyond the tile on every side
(clipped at the frame's edges), and only the tile's own part of the output is kept. When
``pad`` is at least the network's receptive radius (:func:`receptive_radius`), every kept
output pixel saw exactly the input it sees in a whole-frame run, so the tiled result equals
the untiled one up to floating-point rounding. A smaller pad bounds memory for very deep
networks at the cost of a small difference near tile borders, never a visible seam grid of
zero-padded edges.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

Upscale = Callable[[torch.Tensor], torch.Tensor]


@dataclass(frozen=True, slots=True)
class Tiling:
    tile: int
    """Tile side in input pixels; 0 runs the whole frame at once."""
    pad: int
    """Input pixels of context around each tile."""

    def __post_init__(self) -> None:
        if self.tile < 0 or self.pad < 0:
            raise ValueError(f"Tile size and pad must not be negative, got {self.tile} and {self.pad}.")


@dataclass(frozen=True, slots=True)
class Span:
    """One tile along one axis: the kept part ``[start, end)`` and the window run around it."""

    start: int
    end: int
    window_start: int
    window_end: int


def receptive_radius(network: nn.Module) -> int:
    """How far (in input pixels) an output pixel can see: an upper bound from the convolutions.

    Convolutions after an upsampling layer are counted at full weight, which overestimates
    their reach; the bound stays safe for choosing a seamless pad.
    """
    radius = 0
    for module in network.modules():
        if isinstance(module, nn.Conv2d):
            kernel = module.kernel_size[0]
            dilation = module.dilation[0]
            radius += (kernel // 2) * dilation
    return radius


def spans(length: int, tile: int, pad: int) -> list[Span]:
    if tile <= 0 or tile >= length:
        return [Span(0, length, 0, length)]
    return [
        Span(start, min(start + tile, length), max(0, start - pad), min(length, start + tile + pad))
        for start in range(0, length, tile)
    ]


@torch.inference_mode()
def upscale_tiled(upscale: Upscale, image: torch.Tensor, scale: int, tiling: Tiling) -> torch.Tensor:
    """Run ``upscale`` on ``image`` (N, C, H, W) tile by tile; returns (N, C', H*scale, W*scale)."""
    _, _, height, width = image.shape
    rows, columns = spans(height, tiling.tile, tiling.pad), spans(width, tiling.tile, tiling.pad)
    if len(rows) == 1 and len(columns) == 1:
        return upscale(image)
    output: torch.Tensor | None = None
    for row in rows:
        for column in columns:
            window = image[..., row.window_start : row.window_end, column.window_start : column.window_end]
            piece = _kept_part(upscale(window), row, column, scale)
            if output is None:
                output = piece.new_empty((*piece.shape[:2], height * scale, width * scale))
            rows_out = slice(row.start * scale, row.end * scale)
            output[..., rows_out, column.start * scale : column.end * scale] = piece
    assert output is not None  # a frame has at least one tile
    return output


def _kept_part(window_output: torch.Tensor, row: Span, column: Span, scale: int) -> torch.Tensor:
    top = (row.start - row.window_start) * scale
    left = (column.start - column.window_start) * scale
    return window_output[
        ..., top : top + (row.end - row.start) * scale, left : left + (column.end - column.start) * scale
    ]
