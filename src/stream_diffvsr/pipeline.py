"""Streaming Stream-DiffVSR: one low-resolution frame in, one x4 frame out, explicit state.

Per frame t (reference algorithm):

1. check the inputs, draw the initial latent (seeded CPU generator, one draw per frame);
2. t > 0 only: flow RAFT(up(LR_t), up(LR_t-1)) and backward-warp the previous unclamped output;
3. 4 DDIM steps (trailing, v-prediction) of the UNet on concat(latent, LR_t), with ControlNet
   residuals from the warped frame when t > 0;
4. decode with the tiny autoencoder, its TPMs fed by encoder features of the warped frame (t > 0);
5. store LR_t and the unclamped output in the state.

Memory is constant in video length: the state holds two frames. UNet, ControlNet and
autoencoder run in the chosen dtype; flow, warp and the scheduler arithmetic stay in float32.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

import torch
from diffusers import ControlNetModel, DDIMScheduler, UNet2DConditionModel
from torch import Tensor, nn

from .autoencoder import TemporalAutoencoderTiny
from .errors import InputError, StateError
from .flow import FlowEstimator, RaftFlow, backward_warp, upsample_for_flow
from .images import SCALE, SIZE_MULTIPLE
from .loading import load_components
from .state import StreamState

DEFAULT_STEPS = 4
LATENT_CHANNELS = 4


class StreamDiffVSRPipeline:
    """Frame-by-frame x4 video super-resolution with an explicit, serialisable state."""

    def __init__(
        self,
        unet: UNet2DConditionModel,
        controlnet: ControlNetModel,
        vae: TemporalAutoencoderTiny,
        scheduler: DDIMScheduler,
        prompt_embeds: Tensor,
        flow: FlowEstimator,
        *,
        device: torch.device | str = "cpu",
        dtype: torch.dtype = torch.float32,
        num_inference_steps: int = DEFAULT_STEPS,
    ) -> None:
        if num_inference_steps < 1:
            raise InputError(f"num_inference_steps must be >= 1, got {num_inference_steps}")
        self.device = torch.device(device)
        self.dtype = dtype
        self.unet = _move(unet, self.device, dtype)
        self.controlnet = _move(controlnet, self.device, dtype)
        self.vae = _move(vae, self.device, dtype)
        # Typed Any: diffusers' scheduler classes are opaque to type checkers.
        self.scheduler: Any = cast(Any, scheduler)
        self.scheduler.set_timesteps(num_inference_steps)
        self.prompt_embeds = prompt_embeds.to(self.device, dtype)
        self.flow = flow
        self._unet_call: Callable[..., Any] = self.unet
        self._controlnet_call: Callable[..., Any] = self.controlnet

    @classmethod
    def from_pretrained(
        cls,
        model: str | Path,
        *,
        flow_weights: str | Path | None = None,
        device: torch.device | str = "cpu",
        dtype: torch.dtype = torch.float32,
        flow_scale: float = 1.0,
        num_inference_steps: int = DEFAULT_STEPS,
        embedding_cache_dir: Path | None = None,
    ) -> StreamDiffVSRPipeline:
        """Load a checkpoint folder (or hub id) and RAFT-large (file, or torchvision's weights)."""
        parts = load_components(model, embedding_cache_dir=embedding_cache_dir)
        flow = RaftFlow.from_weights(flow_weights, device=device, flow_scale=flow_scale)
        return cls(
            parts.unet,
            parts.controlnet,
            parts.vae,
            parts.scheduler,
            parts.prompt_embeds,
            flow,
            device=device,
            dtype=dtype,
            num_inference_steps=num_inference_steps,
        )

    @property
    def timesteps(self) -> list[int]:
        return [int(t) for t in self.scheduler.timesteps]

    def enable_compile(self, **compile_options: Any) -> None:
        """Compile UNet and ControlNet with torch.compile (first frames of each size are slow)."""
        self._unet_call = torch.compile(self.unet, **compile_options)
        self._controlnet_call = torch.compile(self.controlnet, **compile_options)

    def new_state(self, seed: int | None = None) -> StreamState:
        return StreamState.start(seed)

    def check_inputs(self, lr_frame: Tensor, state: StreamState, latents: Tensor | None) -> None:
        """Raise :class:`InputError` / :class:`StateError` instead of silently fixing input."""
        if lr_frame.ndim != 4 or lr_frame.shape[:2] != (1, 3) or not lr_frame.is_floating_point():
            raise InputError(f"frame must be a float (1, 3, h, w) tensor, got {tuple(lr_frame.shape)}")
        height, width = lr_frame.shape[-2:]
        if height % SIZE_MULTIPLE or width % SIZE_MULTIPLE:
            raise InputError(
                f"frame size {height}x{width} is not a multiple of {SIZE_MULTIPLE}; resize it first "
                "(the reference Lanczos-resizes down to the nearest multiple of 4)"
            )
        if isinstance(self.flow, RaftFlow):
            self.flow.check_output_size(height * SCALE, width * SCALE)
        expected_latent = (1, LATENT_CHANNELS, height, width)
        if latents is not None and tuple(latents.shape) != expected_latent:
            raise InputError(f"latents must have shape {expected_latent}, got {tuple(latents.shape)}")
        if state.previous_lr is not None and state.previous_lr.shape != lr_frame.shape:
            raise StateError(
                f"frame size {tuple(lr_frame.shape)} differs from the previous frame "
                f"{tuple(state.previous_lr.shape)}; start a new state for a new size"
            )

    @torch.no_grad()
    def upscale_frame(self, lr_frame: Tensor, state: StreamState, latents: Tensor | None = None) -> Tensor:
        """Return the unclamped x4 output (1, 3, 4h, 4w) in [-1, 1] and advance ``state``."""
        self.check_inputs(lr_frame, state, latents)
        lr = lr_frame.to(self.device, torch.float32)
        initial = self._initial_latents(lr, state, latents)
        warped = self._warped_previous(lr, state) if state.has_previous else None
        final_latents = self._denoise(initial, lr, warped)
        features = None if warped is None else self.vae.temporal_features(warped)
        output = self.vae.decode(final_latents.to(self.dtype), features)
        state.previous_lr, state.previous_hr = lr, output
        state.frame_index += 1
        return output

    def _initial_latents(self, lr: Tensor, state: StreamState, latents: Tensor | None) -> Tensor:
        if latents is not None:
            return latents.to(self.device, torch.float32)
        shape = (1, LATENT_CHANNELS, *lr.shape[-2:])
        # Drawn on the CPU so a seed gives the same frames on every device.
        return torch.randn(shape, generator=state.generator).to(self.device)

    def _warped_previous(self, lr: Tensor, state: StreamState) -> Tensor:
        """Previous unclamped output warped onto the current frame, in the model dtype."""
        assert state.previous_lr is not None and state.previous_hr is not None
        flow = self.flow(upsample_for_flow(lr), upsample_for_flow(state.previous_lr))
        return backward_warp(state.previous_hr, flow).to(self.dtype)

    def _denoise(self, latents: Tensor, lr: Tensor, warped: Tensor | None) -> Tensor:
        lr_model = lr.to(self.dtype)
        for t in self.scheduler.timesteps:
            model_input = torch.cat([latents.to(self.dtype), lr_model], dim=1)
            timestep = t.to(self.device)
            residuals = self._control_residuals(model_input, timestep, warped)
            velocity = self._unet_call(
                model_input,
                timestep,
                encoder_hidden_states=self.prompt_embeds,
                return_dict=False,
                **residuals,
            )[0]
            # Scheduler arithmetic in float32 whatever the model dtype.
            latents = self.scheduler.step(velocity.float(), int(t), latents, eta=0.0).prev_sample
        return latents

    def _control_residuals(
        self, model_input: Tensor, timestep: Tensor, warped: Tensor | None
    ) -> dict[str, Any]:
        if warped is None:  # frame 0: no temporal guidance
            return {}
        down, mid = self._controlnet_call(
            model_input,
            timestep,
            encoder_hidden_states=self.prompt_embeds,
            controlnet_cond=warped,
            conditioning_scale=1.0,
            guess_mode=False,
            return_dict=False,
        )
        return {"down_block_additional_residuals": down, "mid_block_additional_residual": mid}


def _move(model: Any, device: torch.device, dtype: torch.dtype) -> Any:
    # nn.Module.to directly: diffusers' override only adds a warning about keep-in-fp32 modules,
    # and these models have none (all of them run fully in the chosen dtype).
    return nn.Module.to(model, device=device, dtype=dtype).eval()
