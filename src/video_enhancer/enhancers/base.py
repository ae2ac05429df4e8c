"""The Enhancer interface: what the media pipeline needs from a super-resolution method.

An ``Enhancer`` is loaded once per process (model weights, devices) and opens one
``EnhancerSession`` per run of consecutive frames. A session is stateful: recurrent models
such as Stream-DiffVSR carry information from earlier frames into later ones. After each
segment the pipeline asks the session for ``state()`` and stores it beside the encoded
piece; a resumed run passes those bytes back to ``open_session`` so the join between
segments stays invisible.

Contract (the pipeline relies on every point):

* Sizes are ``(width, height)`` of the upright picture.
* ``enhance`` takes one ``(in_h, in_w, 3)`` ``uint8`` RGB frame, C-contiguous, and returns
  exactly one ``(out_h, out_w, 3)`` ``uint8`` RGB frame: one in, one out, same order. The
  returned array must not be reused by the session afterwards (the encoder may still hold it).
* When ``native_scale`` is an int, the pipeline always calls ``open_session`` with
  ``out_size == (in_w * native_scale, in_h * native_scale)`` and ``in_size`` a multiple of 4
  in both dimensions; any remaining resize to the policy size is done by the pipeline.
  When it is ``None`` the enhancer must produce any requested ``out_size``.
* A session is used from a single thread (the pipeline's enhancement thread), but not
  necessarily the thread that opened it.
* ``state()`` is valid after any number of frames (including zero) and must be accepted by
  ``open_session(..., state=...)`` of the same enhancer with the same sizes. Stateless
  enhancers return ``b""``.
* Errors: raise ``video_enhancer.enhancers.base.EnhancerError`` (or a subclass) for
  failures the user should see; the pipeline converts anything else into
  ``ENHANCEMENT_FAILED`` too, but with a less helpful message.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

from video_enhancer.errors import ServiceError

Size = tuple[int, int]
"""(width, height) in pixels of the upright picture."""

Frame = npt.NDArray[np.uint8]
"""An RGB image as a ``(height, width, 3)`` uint8 array."""


class EnhancerError(ServiceError):
    """A failure inside an enhancer (bad state bytes, device out of memory, model error).

    A `ServiceError` with no HTTP status: enhancers run in the worker and the `enhance` command.
    """

    default_code = "ENHANCEMENT_FAILED"
    default_message = "The enhancement model failed."


@runtime_checkable
class EnhancerSession(Protocol):
    """One run of consecutive frames at fixed input and output sizes."""

    def enhance(self, frame: Frame) -> Frame:
        """Return the enhanced version of ``frame`` (see the module contract)."""
        ...

    def state(self) -> bytes:
        """Serialisable state after the last enhanced frame, for resuming a later segment."""
        ...

    def close(self) -> None:
        """Release per-session resources (GPU buffers). Idempotent."""
        ...


@runtime_checkable
class Enhancer(Protocol):
    """A loaded enhancement method; cheap to open sessions on, expensive to construct."""

    name: str
    """Stable identifier recorded on the job ("lanczos", "stream-diffvsr")."""

    native_scale: int | None
    """Fixed upscaling factor of the method (4 for Stream-DiffVSR) or None for any size."""

    def open_session(self, in_size: Size, out_size: Size, state: bytes | None = None) -> EnhancerSession:
        """Start enhancing frames of ``in_size`` into ``out_size``, optionally resuming ``state``."""
        ...


@runtime_checkable
class ParallelEnhancer(Enhancer, Protocol):
    """An enhancer that batches several sessions on one device and can start one mid-video.

    The media pipeline uses it to split one long video into lanes run at once (see
    ``media.segments.plan_lanes``) when the enhancer has room for more streams.
    """

    def idle_streams(self) -> int:
        """How many more sessions would share the device's forward passes now (at least 1)."""
        ...

    def open_session_at(self, in_size: Size, out_size: Size, frame_index: int) -> EnhancerSession:
        """A session that enhances frame ``frame_index`` of a video next, without its history.

        What does not depend on the history (a seeded noise stream, say) is as it would be at
        that frame of an uninterrupted run, so only the missing history makes the difference.
        """
        ...
