"""Tiny temporal autoencoder (TAESD layout plus a Temporal Processor Module per block).

The module tree and parameter names match the published ``vae/`` checkpoint exactly
(``encoder.layers.N`` / ``decoder.layers.N``, block sub-modules ``conv.{0,2,4}``,
``temporal_processor.{0,2}`` and ``alpha``), so the file loads strictly.

Temporal features are passed explicitly to :meth:`TemporalAutoencoderTiny.decode` instead of
being stored on the blocks: nothing survives between calls, which keeps streaming state small
and makes every decode a pure function of its inputs. In a batch of independent streams only
some rows may have a previous frame (a stream at its frame 0 has none): ``temporal_rows`` names
the rows the features belong to, and the other rows decode exactly as without features.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from diffusers.configuration_utils import ConfigMixin, register_to_config
from diffusers.models.modeling_utils import ModelMixin
from torch import Tensor, nn

# Weight of the fused temporal signal added to a block's conv branch (trained-in constant).
TEMPORAL_RESIDUAL_SCALE = 0.1
# Side of the average-pooling window applied before the 1-D temporal convolutions.
TEMPORAL_POOL = 4


def _activation(name: str) -> nn.Module:
    activations: dict[str, type[nn.Module]] = {"relu": nn.ReLU, "silu": nn.SiLU, "gelu": nn.GELU}
    if name not in activations:
        raise ValueError(f"unsupported activation {name!r}; expected one of {sorted(activations)}")
    return activations[name]()


def _conv3x3(c_in: int, c_out: int, *, stride: int = 1, bias: bool = True) -> nn.Conv2d:
    return nn.Conv2d(c_in, c_out, kernel_size=3, stride=stride, padding=1, bias=bias)


class TemporalAutoencoderTinyBlock(nn.Module):
    """TAESD residual block whose conv branch can be blended with a previous frame's features."""

    def __init__(self, in_channels: int, out_channels: int, act_fn: str) -> None:
        super().__init__()
        act = _activation(act_fn)
        self.conv = nn.Sequential(
            _conv3x3(in_channels, out_channels),
            act,
            _conv3x3(out_channels, out_channels),
            act,
            _conv3x3(out_channels, out_channels),
        )
        self.skip: nn.Module = (
            nn.Identity()
            if in_channels == out_channels
            else nn.Conv2d(in_channels, out_channels, kernel_size=1, bias=False)
        )
        self.fuse = nn.ReLU()
        self.alpha = nn.Parameter(torch.tensor(0.5))
        self.temporal_processor = nn.Sequential(
            nn.Conv1d(out_channels, out_channels, kernel_size=3, padding=1),
            act,
            nn.Conv1d(out_channels, out_channels, kernel_size=3, padding=1),
        )

    def forward(self, x: Tensor, previous: Tensor | None = None, rows: Tensor | None = None) -> Tensor:
        """``previous`` holds features for every row of ``x``, or only for ``rows`` when given."""
        branch = self.conv(x)
        if previous is not None and rows is None:
            branch = branch + TEMPORAL_RESIDUAL_SCALE * self.temporal_fusion(branch, previous)
        elif previous is not None:
            fused = TEMPORAL_RESIDUAL_SCALE * self.temporal_fusion(branch[rows], previous)
            branch = branch.index_add(0, rows, fused)
        return self.fuse(branch + self.skip(x))

    def temporal_fusion(self, current: Tensor, previous: Tensor) -> Tensor:
        """The TPM: pooled [current, previous] raster sequence -> Conv1d stack -> alpha blend."""
        if previous.shape != current.shape:
            raise ValueError(
                f"temporal feature shape {tuple(previous.shape)} != block shape {tuple(current.shape)}"
            )
        batch, channels, height, width = current.shape
        pooled_cur = F.avg_pool2d(current, TEMPORAL_POOL)
        pooled_prev = F.avg_pool2d(previous, TEMPORAL_POOL)
        h, w = pooled_cur.shape[-2:]
        # One sequence of length 2*h*w: the Conv1d kernel straddles row wraps and the
        # current/previous seam on purpose, that is what the weights were trained on.
        sequence = torch.cat([pooled_cur.flatten(2), pooled_prev.flatten(2)], dim=2)
        mixed = self.temporal_processor(sequence)
        cur_half = mixed[:, :, : h * w].reshape(batch, channels, h, w)
        prev_half = mixed[:, :, h * w :].reshape(batch, channels, h, w)
        fused = self.alpha * cur_half + (1 - self.alpha) * prev_half
        return F.interpolate(fused, size=(height, width), mode="bilinear", align_corners=False)


class TemporalEncoderTiny(nn.Module):
    """TAESD encoder: image -> latent at 1/2**(stages-1) resolution; also a feature extractor."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        num_blocks: Sequence[int],
        block_out_channels: Sequence[int],
        act_fn: str,
    ) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        for stage, (count, channels) in enumerate(zip(num_blocks, block_out_channels, strict=True)):
            if stage == 0:
                layers.append(_conv3x3(in_channels, channels))
            else:
                layers.append(_conv3x3(block_out_channels[stage - 1], channels, stride=2, bias=False))
            layers.extend(TemporalAutoencoderTinyBlock(channels, channels, act_fn) for _ in range(count))
        layers.append(_conv3x3(block_out_channels[-1], out_channels))
        self.layers = nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        # TAESD convention: the encoder sees images in [0, 1].
        return self.layers(x.add(1).div(2))

    def block_features(self, image: Tensor) -> list[Tensor]:
        """Outputs of every block, in encoder order, for an image fed as-is (no [0, 1] rescale).

        The reference feeds the warped previous frame in its raw [-1, 1] range; the decoder's
        TPMs were trained on features computed that way.
        """
        features: list[Tensor] = []
        x = image
        for layer in self.layers:
            x = layer(x)
            if isinstance(layer, TemporalAutoencoderTinyBlock):
                features.append(x)
        return features


class TemporalDecoderTiny(nn.Module):
    """TAESD decoder whose blocks accept temporal features from the encoder."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        num_blocks: Sequence[int],
        block_out_channels: Sequence[int],
        upsampling_scaling_factor: int,
        act_fn: str,
        upsample_fn: str,
    ) -> None:
        super().__init__()
        layers: list[nn.Module] = [_conv3x3(in_channels, block_out_channels[0]), _activation(act_fn)]
        last = len(num_blocks) - 1
        for stage, (count, channels) in enumerate(zip(num_blocks, block_out_channels, strict=True)):
            layers.extend(TemporalAutoencoderTinyBlock(channels, channels, act_fn) for _ in range(count))
            if stage != last:
                layers.append(nn.Upsample(scale_factor=upsampling_scaling_factor, mode=upsample_fn))
            conv_out = out_channels if stage == last else channels
            layers.append(_conv3x3(channels, conv_out, bias=stage == last))
        self.layers = nn.Sequential(*layers)

    @property
    def num_temporal_blocks(self) -> int:
        return sum(isinstance(layer, TemporalAutoencoderTinyBlock) for layer in self.layers)

    def forward(
        self,
        latents: Tensor,
        temporal_features: Sequence[Tensor] | None = None,
        temporal_rows: Tensor | None = None,
    ) -> Tensor:
        if temporal_features is not None and len(temporal_features) != self.num_temporal_blocks:
            raise ValueError(
                f"expected {self.num_temporal_blocks} temporal features, got {len(temporal_features)}"
            )
        # Soft clamp of the latent to (-3, 3), as in TAESD.
        x = torch.tanh(latents / 3) * 3
        block = 0
        for layer in self.layers:
            if isinstance(layer, TemporalAutoencoderTinyBlock):
                previous = None if temporal_features is None else temporal_features[block]
                x = layer(x, previous, temporal_rows)
                block += 1
            else:
                x = layer(x)
        # [0, 1] -> [-1, 1]; deliberately no clamp, the unclamped output is carried to the next frame.
        return x.mul(2).sub(1)


class TemporalAutoencoderTiny(ModelMixin, ConfigMixin):  # type: ignore[misc]  # diffusers mixins
    """Weight-compatible ``TemporalAutoencoderTiny`` (the checkpoint's ``vae/``)."""

    @register_to_config
    def __init__(
        self,
        in_channels: int = 3,
        out_channels: int = 3,
        encoder_block_out_channels: tuple[int, ...] = (64, 64, 64, 64),
        decoder_block_out_channels: tuple[int, ...] = (64, 64, 64, 64),
        act_fn: str = "relu",
        upsample_fn: str = "nearest",
        latent_channels: int = 4,
        upsampling_scaling_factor: int = 2,
        num_encoder_blocks: tuple[int, ...] = (1, 3, 3, 3),
        num_decoder_blocks: tuple[int, ...] = (3, 3, 3, 1),
        latent_magnitude: int = 3,
        latent_shift: float = 0.5,
        force_upcast: bool = False,
        scaling_factor: float = 1.0,
        shift_factor: float = 0.0,
        block_out_channels: tuple[int, ...] | None = None,
    ) -> None:
        super().__init__()
        # Stored in the published config as a copy of the decoder channels; pipelines derive the
        # spatial factor from it (2 ** (len - 1) = 4 for 3 stages). Accepted only if consistent.
        if block_out_channels is not None and list(block_out_channels) != list(decoder_block_out_channels):
            raise ValueError("block_out_channels must equal decoder_block_out_channels")
        if list(num_encoder_blocks) != list(reversed(num_decoder_blocks)):
            raise ValueError("encoder and decoder must have mirrored block counts per stage")
        self.encoder = TemporalEncoderTiny(
            in_channels, latent_channels, num_encoder_blocks, encoder_block_out_channels, act_fn
        )
        self.decoder = TemporalDecoderTiny(
            latent_channels,
            out_channels,
            num_decoder_blocks,
            decoder_block_out_channels,
            upsampling_scaling_factor,
            act_fn,
            upsample_fn,
        )
        self.register_to_config(block_out_channels=list(decoder_block_out_channels))

    @property
    def spatial_scale(self) -> int:
        stages = len(self.config["decoder_block_out_channels"])
        return int(self.config["upsampling_scaling_factor"]) ** (stages - 1)

    def temporal_features(self, previous_frame: Tensor) -> list[Tensor]:
        """Encoder block outputs of the warped previous frame, ordered for the decoder blocks."""
        return list(reversed(self.encoder.block_features(previous_frame)))

    def encode(self, image: Tensor) -> Tensor:
        return self.encoder(image)

    def decode(
        self,
        latents: Tensor,
        temporal_features: Sequence[Tensor] | None = None,
        temporal_rows: Tensor | None = None,
    ) -> Tensor:
        """Decode latents; ``temporal_rows`` (indices) says which rows the features belong to."""
        return self.decoder(latents / self.config["scaling_factor"], temporal_features, temporal_rows)

    def forward(self, latents: Tensor, previous_frame: Tensor | None = None) -> Tensor:
        features = None if previous_frame is None else self.temporal_features(previous_frame)
        return self.decode(latents, features)
