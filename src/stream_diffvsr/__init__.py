"""Stream-DiffVSR: weight-compatible, streaming x4 diffusion video super-resolution.

Typical use::

    pipeline = StreamDiffVSRPipeline.from_pretrained("path/to/Stream-DiffVSR", flow_weights=raft)
    state = pipeline.new_state(seed=42)
    for frame in frames:                      # (1, 3, h, w) float tensors in [-1, 1]
        output = pipeline.upscale_frame(frame, state)
    saved = state.to_bytes()                  # resume later with StreamState.from_bytes(saved)

Several videos at once, one forward pass per frame size (streams join and leave at any frame)::

    states = [pipeline.new_state(seed=s) for s in seeds]
    outputs = pipeline.upscale_batch([next_frame(v) for v in videos], states)
"""

from .autoencoder import TemporalAutoencoderTiny
from .errors import CheckpointError, InputError, StateError, StreamDiffVSRError
from .flow import RaftFlow
from .images import frame_to_tensor, resize_to_multiple, tensor_to_frame
from .loading import load_components
from .pipeline import StreamDiffVSRPipeline
from .state import StreamState

__all__ = [
    "CheckpointError",
    "InputError",
    "RaftFlow",
    "StateError",
    "StreamDiffVSRError",
    "StreamDiffVSRPipeline",
    "StreamState",
    "TemporalAutoencoderTiny",
    "frame_to_tensor",
    "load_components",
    "resize_to_multiple",
    "tensor_to_frame",
]
