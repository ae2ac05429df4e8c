"""What an enhancement run is asked for, in one place: the defaults and the model's options.

* `ENHANCE_DEFAULTS`: output height, scale cap, encoder, preset, CRF and segment length. The
  settings (`VE_ENCODER*`, `VE_SEGMENT_SECONDS`), the media library (`EncoderSettings`,
  `enhance_file`) and the `enhance` command's flags all default to these.
* `StreamDiffVSROptions`: the Stream-DiffVSR enhancer's constructor arguments, made from the
  settings (`Settings.stream_diffvsr_options`) and, in the `enhance` command, from flags over them.

No heavy imports: `config.py` imports this module, and the API must start without torch.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any, Literal

ModelDtype = Literal["float32", "float16", "bfloat16"]
ModelCompile = Literal["off", "compile", "cuda-graphs"]


@dataclass(frozen=True, slots=True)
class EnhanceDefaults:
    max_height: int = 1080
    """Output height limit when no plan sets one (the `enhance` command)."""
    scale: float = 4.0
    """Upscaling factor cap: output height is at most scale x input height."""
    encoder: str = "libx264"
    """libx264, or h264_nvenc when asked for and present."""
    preset: str = "slow"
    crf: int = 18
    segment_seconds: float = 4.0
    """Length of a processing segment, the unit of resume."""


ENHANCE_DEFAULTS = EnhanceDefaults()


@dataclass(frozen=True, slots=True)
class StreamDiffVSROptions:
    """Where the weights come from and how the model runs; `model_path` wins over `model_id`."""

    model_path: Path | None = None
    model_id: str | None = None
    flow_weights: Path | None = None
    device: str = "auto"
    dtype: ModelDtype = "float16"
    gpu_streams: int = 1
    """Jobs whose frames share the model's forward passes (`VE_WORKER_GPU_STREAMS`)."""
    flow_scale: float = 1.0
    """Optical flow at this fraction of the output size (`VE_FLOW_SCALE`; 1 is the reference)."""
    compile_mode: ModelCompile = "off"
    """torch.compile of UNet and ControlNet (`VE_MODEL_COMPILE`)."""

    @property
    def has_weights(self) -> bool:
        return self.model_path is not None or self.model_id is not None

    def with_weights(self, weights: str) -> StreamDiffVSROptions:
        """Weights from a folder when `weights` is one, else from that hub id (replacing both)."""
        if Path(weights).is_dir():
            return replace(self, model_path=Path(weights), model_id=None)
        return replace(self, model_path=None, model_id=weights)

    def constructor_kwargs(self) -> dict[str, Any]:
        """Keyword arguments of `StreamDiffVSREnhancer` (and `get_enhancer("stream-diffvsr", ...)`)."""
        return asdict(self)
