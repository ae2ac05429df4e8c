"""Published model configs, tiny test configs, and the documented parameter-count check.

The UNet and ControlNet configs are the SD x4-upscaler layout with the class (noise-level)
embedding removed and 7 input channels (latent + low-res RGB); the ControlNet's conditioning
embedding has 3 entries so that it downsamples the output-resolution condition by 4.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from diffusers import ControlNetModel, DDIMScheduler, UNet2DConditionModel

from .autoencoder import TemporalAutoencoderTiny
from .errors import CheckpointError

_DOWN_BLOCKS = ["DownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D"]
_UP_BLOCKS = ["CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "UpBlock2D"]
_ONLY_CROSS_ATTENTION = [True, True, True, False]

PUBLISHED_UNET_CONFIG: dict[str, Any] = {
    "act_fn": "silu",
    "attention_head_dim": 8,
    "block_out_channels": [256, 512, 512, 1024],
    "center_input_sample": False,
    "class_embed_type": None,
    "cross_attention_dim": 1024,
    "down_block_types": _DOWN_BLOCKS,
    "downsample_padding": 1,
    "dual_cross_attention": False,
    "flip_sin_to_cos": True,
    "freq_shift": 0,
    "in_channels": 7,
    "layers_per_block": 2,
    "mid_block_scale_factor": 1,
    "norm_eps": 1e-5,
    "norm_num_groups": 32,
    "num_class_embeds": None,
    "only_cross_attention": _ONLY_CROSS_ATTENTION,
    "out_channels": 4,
    "sample_size": 128,
    "up_block_types": _UP_BLOCKS,
    "upcast_attention": False,
    "use_linear_projection": True,
}

PUBLISHED_CONTROLNET_CONFIG: dict[str, Any] = {
    "act_fn": "silu",
    "attention_head_dim": 8,
    "block_out_channels": [256, 512, 512, 1024],
    "class_embed_type": None,
    "conditioning_channels": 3,
    "conditioning_embedding_out_channels": [64, 128, 256],
    "controlnet_conditioning_channel_order": "rgb",
    "cross_attention_dim": 1024,
    "down_block_types": _DOWN_BLOCKS,
    "downsample_padding": 1,
    "flip_sin_to_cos": True,
    "freq_shift": 0,
    "global_pool_conditions": False,
    "in_channels": 7,
    "layers_per_block": 2,
    "mid_block_scale_factor": 1,
    "norm_eps": 1e-5,
    "norm_num_groups": 32,
    "num_class_embeds": None,
    "only_cross_attention": _ONLY_CROSS_ATTENTION,
    "transformer_layers_per_block": 1,
    "upcast_attention": False,
    "use_linear_projection": True,
}

PUBLISHED_VAE_CONFIG: dict[str, Any] = {
    "act_fn": "relu",
    "decoder_block_out_channels": [64, 64, 64],
    "encoder_block_out_channels": [64, 64, 64],
    "force_upcast": False,
    "in_channels": 3,
    "latent_channels": 4,
    "latent_magnitude": 3,
    "latent_shift": 0.5,
    "num_decoder_blocks": [3, 3, 1],
    "num_encoder_blocks": [1, 3, 3],
    "out_channels": 3,
    "scaling_factor": 1.0,
    "shift_factor": 0.0,
    "upsample_fn": "nearest",
    "upsampling_scaling_factor": 2,
}

PUBLISHED_SCHEDULER_CONFIG: dict[str, Any] = {
    "beta_end": 0.02,
    "beta_schedule": "scaled_linear",
    "beta_start": 0.0001,
    "clip_sample": False,
    "clip_sample_range": 1.0,
    "dynamic_thresholding_ratio": 0.995,
    "num_train_timesteps": 1000,
    "prediction_type": "v_prediction",
    "rescale_betas_zero_snr": False,
    "sample_max_value": 1.0,
    "set_alpha_to_one": False,
    "steps_offset": 1,
    "thresholding": False,
    "timestep_spacing": "trailing",
    "trained_betas": None,
}

# Parameter counts of the published checkpoint files (fp32 sizes match the hub files).
DOCUMENTED_PARAMETER_COUNTS: dict[str, int] = {
    "unet": 472_374_020,
    "controlnet": 207_699_264,
    "vae": 2_052_501,
}

# Tiny configs for offline tests: same block types and quirks, a few thousand times smaller.
TINY_UNET_CONFIG: dict[str, Any] = {
    **PUBLISHED_UNET_CONFIG,
    "attention_head_dim": 4,
    "block_out_channels": [32, 32, 64, 64],
    "cross_attention_dim": 32,
    "layers_per_block": 1,
    "norm_num_groups": 8,
    "sample_size": 32,
}

TINY_CONTROLNET_CONFIG: dict[str, Any] = {
    **PUBLISHED_CONTROLNET_CONFIG,
    "attention_head_dim": 4,
    "block_out_channels": [32, 32, 64, 64],
    "conditioning_embedding_out_channels": [8, 16, 32],
    "cross_attention_dim": 32,
    "layers_per_block": 1,
    "norm_num_groups": 8,
}

TINY_VAE_CONFIG: dict[str, Any] = {
    **PUBLISHED_VAE_CONFIG,
    "decoder_block_out_channels": [8, 8, 8],
    "encoder_block_out_channels": [8, 8, 8],
    "num_decoder_blocks": [1, 1, 1],
    "num_encoder_blocks": [1, 1, 1],
}


@dataclass(frozen=True)
class DenoisingModels:
    """The three trainable networks of the checkpoint."""

    unet: UNet2DConditionModel
    controlnet: ControlNetModel
    vae: TemporalAutoencoderTiny


def build_models(
    unet_config: dict[str, Any],
    controlnet_config: dict[str, Any],
    vae_config: dict[str, Any],
    *,
    device: torch.device | str = "cpu",
) -> DenoisingModels:
    """Instantiate the networks from configs (random weights; ``device='meta'`` allocates nothing)."""
    with torch.device(device):
        return DenoisingModels(
            unet=UNet2DConditionModel.from_config(unet_config),
            controlnet=ControlNetModel.from_config(controlnet_config),
            vae=TemporalAutoencoderTiny.from_config(vae_config),
        )


def build_published_models(device: torch.device | str = "cpu") -> DenoisingModels:
    return build_models(
        PUBLISHED_UNET_CONFIG, PUBLISHED_CONTROLNET_CONFIG, PUBLISHED_VAE_CONFIG, device=device
    )


def build_tiny_models(device: torch.device | str = "cpu") -> DenoisingModels:
    return build_models(TINY_UNET_CONFIG, TINY_CONTROLNET_CONFIG, TINY_VAE_CONFIG, device=device)


def build_scheduler(config: dict[str, Any] | None = None) -> DDIMScheduler:
    return DDIMScheduler.from_config(config or PUBLISHED_SCHEDULER_CONFIG)


def parameter_counts(models: DenoisingModels) -> dict[str, int]:
    return {
        name: sum(p.numel() for p in getattr(models, name).parameters())
        for name in DOCUMENTED_PARAMETER_COUNTS
    }


def check_published_parameter_counts() -> dict[str, int]:
    """Build the published configs on the meta device and compare with the documented counts."""
    counts = parameter_counts(build_published_models(device="meta"))
    wrong = {
        name: (counts[name], expected)
        for name, expected in DOCUMENTED_PARAMETER_COUNTS.items()
        if counts[name] != expected
    }
    if wrong:
        details = ", ".join(f"{n}: built {got:,}, documented {exp:,}" for n, (got, exp) in wrong.items())
        raise CheckpointError(f"parameter counts differ from the published checkpoint: {details}")
    return counts
