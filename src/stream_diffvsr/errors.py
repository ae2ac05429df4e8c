"""Exceptions raised by the stream_diffvsr package.

StreamDiffVSRError
 +-- CheckpointError   a model folder that does not match the published layout or weights
 +-- InputError        frames, latents or options that the model cannot take (also a ValueError)
 +-- StateError        a streaming state that cannot be restored or does not fit the frame
"""

from __future__ import annotations


class StreamDiffVSRError(Exception):
    """Base class of every error raised by this package."""


class CheckpointError(StreamDiffVSRError):
    """The model folder is missing a file, or a tensor is missing or has the wrong shape."""


class InputError(StreamDiffVSRError, ValueError):
    """An input frame, latent or option breaks the model's rules."""


class StateError(StreamDiffVSRError):
    """A streaming state is corrupt or does not match the frame being processed."""
