"""Streaming Stream-DiffVSR: one low-resolution frame in, one x4 frame out, explicit state.

Per frame t (reference algorithm):

1. check the inputs, draw the initial latent (seeded CPU generator, one draw per frame);
2. t > 0 only: flow RAFT(up(LR_t), up(LR_t-1)) and backward-warp the previous unclamped output;
3. 4 DDIM steps (trailing, v-prediction) of the UNet on concat(latent, LR_t), with ControlNet
   residuals from the warped frame when t > 0;
4. decode with the tiny autoencoder, its TPMs fed by encoder features of the warped frame (t > 0);
5. store LR_t and the unclamped output in the state.

Several independent streams run as one batch (:meth:`StreamDiffVSRPipeline.upscale_batch`):
each row keeps its own state, and rows at frame 0 skip flow, ControlNet and the temporal
decoder exactly as an unbatched frame 0 does (the ControlNet runs on the other rows only and
its residuals are zero for these rows, which adds nothing).

Memory is constant in video length: the state holds two frames. UNet, ControlNet and
autoencoder run in the chosen dtype; flow, warp and the scheduler arithmetic stay in float32.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
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
        flow_batch: int | None = None,
    ) -> None:
        """``flow_batch`` caps the rows per optical-flow call (None: all rows of a batch at once);
        RAFT's correlation volume grows with each row, so it bounds a batch's peak memory."""
        if num_inference_steps < 1:
            raise InputError(f"num_inference_steps must be >= 1, got {num_inference_steps}")
        if flow_batch is not None and flow_batch < 1:
            raise InputError(f"flow_batch must be >= 1, got {flow_batch}")
        self.flow_batch = flow_batch
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
        flow_batch: int | None = None,
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
            flow_batch=flow_batch,
        )

    @property
    def timesteps(self) -> list[int]:
        return [int(t) for t in self.scheduler.timesteps]

    def enable_compile(self, *, cuda_graphs: bool = False, max_batch: int = 16) -> None:
        """Compile UNet and ControlNet with torch.compile and static shapes.

        One graph per input shape: per batch size for the UNet, and per number of rows past
        frame 0 for the ControlNet, so the first frames of each size are slow. The recompile
        limit is raised to hold a graph for every batch size up to ``max_batch``. With
        ``cuda_graphs`` (CUDA only; ignored elsewhere) each graph is replayed as a CUDA graph,
        which removes the per-kernel launch cost that dominates at small frame sizes.
        """
        import torch._dynamo

        limit = 2 * max_batch + 2  # UNet and ControlNet shapes per frame size
        torch._dynamo.config.recompile_limit = max(torch._dynamo.config.recompile_limit, limit)
        mode = "reduce-overhead" if cuda_graphs and self.device.type == "cuda" else None
        self._unet_call = torch.compile(self.unet, dynamic=False, mode=mode)
        self._controlnet_call = torch.compile(self.controlnet, dynamic=False, mode=mode)

    def new_state(self, seed: int | None = None) -> StreamState:
        return StreamState.start(seed)

    def new_state_at(self, seed: int, frame_index: int, height: int, width: int) -> StreamState:
        """A stream that starts cold at frame ``frame_index`` of a ``height`` x ``width`` video.

        Its noise continues where the uninterrupted stream of ``seed`` stands at that frame
        (the generator has made the draws of frames 0 .. frame_index - 1), so a video split
        into such streams differs from the unsplit run only by the history each one lacks.
        """
        if frame_index < 0:
            raise InputError(f"frame_index must be >= 0, got {frame_index}")
        state = StreamState.start(seed)
        skipped = torch.empty((1, LATENT_CHANNELS, height, width))
        for _ in range(frame_index):
            skipped.normal_(generator=state.generator)
        state.frame_index = frame_index
        return state

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
        return self.upscale_batch([lr_frame], [state], [latents])[0]

    @torch.no_grad()
    def upscale_batch(
        self,
        lr_frames: Sequence[Tensor],
        states: Sequence[StreamState],
        latents: Sequence[Tensor | None] | None = None,
    ) -> list[Tensor]:
        """Upscale the next frame of several independent streams; advance each stream's state.

        Row i is frame ``lr_frames[i]`` of the stream whose state is ``states[i]``. Streams may
        be at any frame index (frame 0 and later ones mix) and of different sizes: streams of
        one size run as one forward pass. Each output equals that stream's unbatched output up
        to float rounding. Every input is checked before any state moves, and a call that
        fails (out of memory, say) leaves every state as it found it.
        """
        noise = self.check_batch(lr_frames, states, latents)
        checkpoints = [state.checkpoint() for state in states]
        outputs: dict[int, Tensor] = {}
        try:
            for rows in rows_by_size(lr_frames):
                group = self._upscale_group(
                    [lr_frames[i] for i in rows], [states[i] for i in rows], [noise[i] for i in rows]
                )
                outputs.update(zip(rows, group, strict=True))
        except BaseException:  # out of memory, say: every stream can retry this frame as if new
            for state, checkpoint in zip(states, checkpoints, strict=True):
                state.rollback(checkpoint)
            raise
        return [outputs[i] for i in range(len(lr_frames))]

    def check_batch(
        self,
        lr_frames: Sequence[Tensor],
        states: Sequence[StreamState],
        latents: Sequence[Tensor | None] | None,
    ) -> list[Tensor | None]:
        """Check every row (see :meth:`check_inputs`); return the per-row latents."""
        noise: list[Tensor | None] = list(latents) if latents is not None else [None] * len(lr_frames)
        if not len(lr_frames) == len(states) == len(noise):
            raise InputError(
                f"a batch needs one state and one latent per frame: got {len(lr_frames)} frames, "
                f"{len(states)} states, {len(noise)} latents"
            )
        if len({id(state) for state in states}) != len(states):
            raise StateError("a stream appears twice in one batch; each row needs its own state")
        for frame, state, initial in zip(lr_frames, states, noise, strict=True):
            self.check_inputs(frame, state, initial)
        return noise

    def _upscale_group(
        self, lr_frames: list[Tensor], states: list[StreamState], latents: list[Tensor | None]
    ) -> list[Tensor]:
        """One forward pass for streams of one frame size."""
        lr = torch.cat([frame.to(self.device, torch.float32) for frame in lr_frames])
        rows = zip(lr.split(1), states, latents, strict=True)
        initial = torch.cat([self._initial_latents(row, state, z) for row, state, z in rows])
        temporal = [i for i, state in enumerate(states) if state.has_previous]
        subset = None if len(temporal) == len(states) else torch.tensor(temporal, device=self.device)
        warped = self._warped_previous(lr, states, temporal) if temporal else None
        final_latents = self._denoise(initial, lr, warped, subset)
        features = None if warped is None else self.vae.temporal_features(warped)
        output = self.vae.decode(final_latents.to(self.dtype), features, subset)
        per_stream = _split_rows(output)
        for state, frame_lr, frame_out in zip(states, _split_rows(lr), per_stream, strict=True):
            state.previous_lr, state.previous_hr = frame_lr, frame_out
            state.frame_index += 1
        return per_stream

    def _initial_latents(self, lr: Tensor, state: StreamState, latents: Tensor | None) -> Tensor:
        if latents is not None:
            return latents.to(self.device, torch.float32)
        shape = (1, LATENT_CHANNELS, *lr.shape[-2:])
        # Drawn on the CPU so a seed gives the same frames on every device.
        return torch.randn(shape, generator=state.generator).to(self.device)

    def _warped_previous(self, lr: Tensor, states: list[StreamState], temporal: list[int]) -> Tensor:
        """Previous unclamped outputs of the ``temporal`` rows warped onto their current frames."""
        carried = [_carried(states[i]) for i in temporal]
        previous_lr = torch.cat([lr_hr[0] for lr_hr in carried])
        previous_hr = torch.cat([lr_hr[1] for lr_hr in carried])
        current = lr if len(temporal) == len(states) else lr[temporal]
        chunk = self.flow_batch or len(temporal)
        flow = torch.cat(
            [
                self.flow(upsample_for_flow(cur), upsample_for_flow(prev))
                for cur, prev in zip(current.split(chunk), previous_lr.split(chunk), strict=True)
            ]
        )
        return backward_warp(previous_hr, flow).to(self.dtype)

    def _denoise(self, latents: Tensor, lr: Tensor, warped: Tensor | None, rows: Tensor | None) -> Tensor:
        lr_model = lr.to(self.dtype)
        prompt = self.prompt_embeds.expand(lr.shape[0], -1, -1)
        for t in self.scheduler.timesteps:
            model_input = torch.cat([latents.to(self.dtype), lr_model], dim=1)
            timestep = t.to(self.device)
            residuals = self._control_residuals(model_input, timestep, warped, rows)
            velocity = self._unet_call(
                model_input,
                timestep,
                encoder_hidden_states=prompt,
                return_dict=False,
                **residuals,
            )[0]
            # Scheduler arithmetic in float32 whatever the model dtype.
            latents = self.scheduler.step(velocity.float(), int(t), latents, eta=0.0).prev_sample
        return latents

    def _control_residuals(
        self, model_input: Tensor, timestep: Tensor, warped: Tensor | None, rows: Tensor | None
    ) -> dict[str, Any]:
        """ControlNet residuals for the rows with a previous frame; zeros (a no-op) for the rest."""
        if warped is None:  # frame 0 everywhere: no temporal guidance
            return {}
        subset = model_input if rows is None else model_input[rows]
        down, mid = self._controlnet_call(
            subset,
            timestep,
            encoder_hidden_states=self.prompt_embeds.expand(subset.shape[0], -1, -1),
            controlnet_cond=warped,
            conditioning_scale=1.0,
            guess_mode=False,
            return_dict=False,
        )
        if rows is not None:
            batch = model_input.shape[0]
            down, mid = [_scatter_rows(r, rows, batch) for r in down], _scatter_rows(mid, rows, batch)
        return {"down_block_additional_residuals": down, "mid_block_additional_residual": mid}


def rows_by_size(frames: Sequence[Tensor]) -> list[list[int]]:
    """Row indices grouped by frame size, in order of first appearance."""
    groups: dict[tuple[int, ...], list[int]] = {}
    for index, frame in enumerate(frames):
        groups.setdefault(tuple(frame.shape[-2:]), []).append(index)
    return list(groups.values())


def _carried(state: StreamState) -> tuple[Tensor, Tensor]:
    """The previous low-res frame and output of a stream past its frame 0."""
    assert state.previous_lr is not None and state.previous_hr is not None
    return state.previous_lr, state.previous_hr


def _split_rows(batch: Tensor) -> list[Tensor]:
    """One (1, ...) tensor per row; copies so a stream's state does not pin the whole batch."""
    if batch.shape[0] == 1:
        return [batch]
    return [row.clone() for row in batch.split(1)]


def _scatter_rows(values: Tensor, rows: Tensor, batch: int) -> Tensor:
    """A (batch, ...) tensor holding ``values`` at ``rows`` and zeros elsewhere."""
    full = values.new_zeros((batch, *values.shape[1:]))
    return full.index_copy(0, rows, values)


def _move(model: Any, device: torch.device, dtype: torch.dtype) -> Any:
    # nn.Module.to directly: diffusers' override only adds a warning about keep-in-fp32 modules,
    # and these models have none (all of them run fully in the chosen dtype).
    return nn.Module.to(model, device=device, dtype=dtype).eval()
