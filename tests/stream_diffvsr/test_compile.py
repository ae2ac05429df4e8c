"""`VE_MODEL_COMPILE`: torch.compile (Inductor, static shapes) gives the eager outputs on CPU.

The first compile on a machine costs minutes on a small CPU (Inductor builds its C++ kernels;
later runs reuse its cache): the test compiles the tiny models once, for a batch that mixes a
stream at frame 0 with one past it, and for a lone stream.
"""

from __future__ import annotations

import pytest
import torch

from stream_diffvsr.loading import LoadedComponents
from stream_diffvsr.pipeline import StreamDiffVSRPipeline
from stream_diffvsr.testing import motion_flow, random_frames
from video_enhancer.config import Settings

TOLERANCE = 1e-4


def _pipeline(components: LoadedComponents) -> StreamDiffVSRPipeline:
    return StreamDiffVSRPipeline(
        components.unet,
        components.controlnet,
        components.vae,
        components.scheduler,
        components.prompt_embeds,
        motion_flow,
    )


def _run(pipeline: StreamDiffVSRPipeline) -> list[torch.Tensor]:
    a, b = random_frames(3, seed=1), random_frames(2, seed=2)
    first, second = pipeline.new_state(seed=1), pipeline.new_state(seed=2)
    outputs = [pipeline.upscale_frame(a[0], first)]
    outputs += pipeline.upscale_batch([a[1], b[0]], [first, second])  # frame 1 beside a frame 0
    outputs += pipeline.upscale_batch([a[2], b[1]], [first, second])
    return outputs


@pytest.mark.slow
def test_compiled_models_give_the_eager_outputs(components: LoadedComponents) -> None:
    eager = _run(_pipeline(components))
    compiled = _pipeline(components)
    compiled.enable_compile(max_batch=2)
    assert compiled._unet_call is not compiled.unet  # the compiled wrapper, not the module
    outputs = _run(compiled)
    assert max(float((a - b).abs().max()) for a, b in zip(eager, outputs, strict=True)) <= TOLERANCE


def test_the_settings_reach_the_enhancer_options() -> None:
    settings = Settings(_env_file=None, model_compile="cuda-graphs", flow_scale=0.5)  # type: ignore[call-arg]
    options = settings.stream_diffvsr_options()
    assert (options.compile_mode, options.flow_scale) == ("cuda-graphs", 0.5)
    assert {"compile_mode", "flow_scale"} <= set(options.constructor_kwargs())
