"""The temporal autoencoder: published state-dict layout, TPM maths, decoder behaviour."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from stream_diffvsr.autoencoder import TemporalAutoencoderTiny, TemporalAutoencoderTinyBlock
from stream_diffvsr.configs import PUBLISHED_VAE_CONFIG, TINY_VAE_CONFIG

ENCODER_BLOCKS = (1, 3, 4, 5, 7, 8, 9)
DECODER_BLOCKS = (2, 3, 4, 7, 8, 9, 12)
BLOCK_SHAPES = {
    "alpha": (),
    "conv.0.weight": (64, 64, 3, 3),
    "conv.0.bias": (64,),
    "conv.2.weight": (64, 64, 3, 3),
    "conv.2.bias": (64,),
    "conv.4.weight": (64, 64, 3, 3),
    "conv.4.bias": (64,),
    "temporal_processor.0.weight": (64, 64, 3),
    "temporal_processor.0.bias": (64,),
    "temporal_processor.2.weight": (64, 64, 3),
    "temporal_processor.2.bias": (64,),
}
PLAIN_CONV_SHAPES = {
    "encoder.layers.0.weight": (64, 3, 3, 3),
    "encoder.layers.0.bias": (64,),
    "encoder.layers.2.weight": (64, 64, 3, 3),
    "encoder.layers.6.weight": (64, 64, 3, 3),
    "encoder.layers.10.weight": (4, 64, 3, 3),
    "encoder.layers.10.bias": (4,),
    "decoder.layers.0.weight": (64, 4, 3, 3),
    "decoder.layers.0.bias": (64,),
    "decoder.layers.6.weight": (64, 64, 3, 3),
    "decoder.layers.11.weight": (64, 64, 3, 3),
    "decoder.layers.13.weight": (3, 64, 3, 3),
    "decoder.layers.13.bias": (3,),
}


def documented_state_dict_shapes() -> dict[str, tuple[int, ...]]:
    shapes = dict(PLAIN_CONV_SHAPES)
    for side, blocks in (("encoder", ENCODER_BLOCKS), ("decoder", DECODER_BLOCKS)):
        for block in blocks:
            for key, shape in BLOCK_SHAPES.items():
                shapes[f"{side}.layers.{block}.{key}"] = shape
    return shapes


def test_published_state_dict_names_and_shapes_match_the_checkpoint() -> None:
    vae = TemporalAutoencoderTiny.from_config(PUBLISHED_VAE_CONFIG)
    actual = {name: tuple(t.shape) for name, t in vae.state_dict().items()}
    assert len(actual) == 166
    assert actual == documented_state_dict_shapes()
    assert sum(p.numel() for p in vae.parameters()) == 2_052_501
    assert vae.config["block_out_channels"] == [64, 64, 64]
    assert vae.spatial_scale == 4


def reference_tpm(block: TemporalAutoencoderTinyBlock, current: Tensor, previous: Tensor) -> Tensor:
    """The documented TPM written out step by step (pool, raster sequence, two convs, blend)."""

    def pool(x: Tensor) -> Tensor:
        b, c, height, width = x.shape
        h, w = height // 4, width // 4
        return x[:, :, : h * 4, : w * 4].reshape(b, c, h, 4, w, 4).mean(dim=(3, 5))

    def conv1d(x: Tensor, conv: torch.nn.Conv1d) -> Tensor:
        padded = F.pad(x, (1, 1))
        windows = torch.stack([padded[:, :, k : k + x.shape[-1]] for k in range(3)], dim=-1)
        return torch.einsum("bilk,oik->bol", windows, conv.weight) + conv.bias[None, :, None]

    cur, prev = pool(current), pool(previous)
    b, c, h, w = cur.shape
    sequence = torch.cat([cur.reshape(b, c, h * w), prev.reshape(b, c, h * w)], dim=2)
    first, second = block.temporal_processor[0], block.temporal_processor[2]
    mixed = conv1d(torch.relu(conv1d(sequence, first)), second)
    alpha = block.alpha
    fused = alpha * mixed[:, :, : h * w] + (1 - alpha) * mixed[:, :, h * w :]
    return F.interpolate(fused.reshape(b, c, h, w), size=current.shape[-2:], mode="bilinear")


def test_tpm_matches_the_documented_maths_on_odd_sizes() -> None:
    torch.manual_seed(0)
    block = TemporalAutoencoderTinyBlock(8, 8, "relu")
    with torch.no_grad():
        block.alpha.fill_(0.3)  # asymmetric, so swapping current/previous halves would show
    x = torch.randn(1, 8, 22, 30)
    previous = torch.relu(torch.randn(1, 8, 22, 30))
    branch = block.conv(x)
    expected = torch.relu(branch + 0.1 * reference_tpm(block, branch, previous) + x)
    assert torch.allclose(block(x, previous), expected, atol=1e-5)


def test_block_without_previous_is_the_plain_taesd_block() -> None:
    torch.manual_seed(1)
    block = TemporalAutoencoderTinyBlock(8, 8, "relu")
    x = torch.randn(1, 8, 12, 12)
    assert torch.equal(block(x), torch.relu(block.conv(x) + x))
    assert not torch.equal(block(x, torch.ones_like(x)), block(x))


def test_decoder_upsamples_by_four_and_does_not_clamp() -> None:
    torch.manual_seed(2)
    vae = TemporalAutoencoderTiny.from_config(TINY_VAE_CONFIG)
    with torch.no_grad():
        vae.decoder.layers[-1].bias.fill_(5.0)  # push outputs far outside [-1, 1]
        output = vae.decode(torch.randn(1, 4, 5, 7))
    assert output.shape == (1, 3, 20, 28)
    assert output.min() > 1.0  # 2 * (>= 5 - small) - 1: unclamped


def test_decoder_soft_clamps_its_input_with_tanh() -> None:
    torch.manual_seed(3)
    vae = TemporalAutoencoderTiny.from_config(TINY_VAE_CONFIG)
    latents = torch.randn(1, 4, 4, 4) * 10
    manual = vae.decoder.layers(torch.tanh(latents / 3) * 3) * 2 - 1
    assert torch.allclose(vae.decode(latents), manual, atol=1e-6)
    # Saturation: every latent far beyond 3 decodes alike.
    huge = torch.full((1, 4, 4, 4), 1e4)
    assert torch.allclose(vae.decode(huge), vae.decode(huge / 100), atol=1e-6)


def test_temporal_features_pair_encoder_blocks_with_decoder_blocks_in_reverse() -> None:
    torch.manual_seed(4)
    vae = TemporalAutoencoderTiny.from_config(
        {**TINY_VAE_CONFIG, "num_decoder_blocks": [1, 2, 1], "num_encoder_blocks": [1, 2, 1]}
    )
    image = torch.rand(1, 3, 32, 48) * 2 - 1
    raw = vae.encoder.block_features(image)
    features = vae.temporal_features(image)
    assert [f.shape[-2:] for f in raw] == [(32, 48), (16, 24), (16, 24), (8, 12)]
    assert [f.shape[-2:] for f in features] == [(8, 12), (16, 24), (16, 24), (32, 48)]
    assert torch.equal(features[0], raw[-1]) and torch.equal(features[-1], raw[0])
    # Features come from the raw [-1, 1] image, not from the encoder's [0, 1] rescale.
    rescaled = vae.encoder.layers[1](vae.encoder.layers[0](image.add(1).div(2)))
    assert not torch.allclose(raw[0], rescaled)
    output = vae.decode(torch.randn(1, 4, 8, 12), features)
    assert output.shape == (1, 3, 32, 48)
