"""Opening a video for NVDEC decode where the GPU allows it, else for the CPU decoder.

PyAV decodes through a CUDA device context and hands back frames already copied to system
memory (NV12, or P010 for 10-bit), so ``decode.FrameConverter`` reads them like any software
frame. A stream NVDEC cannot decode (a codec or profile it lacks) falls back to the CPU decoder
inside FFmpeg (``allow_software_fallback``). A machine without a usable CUDA device fails at
open time instead; that is learned on the first open and remembered for the process, so each
job's open does not pay the failed device creation again.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path

import av
import av.container
from av.codec.hwaccel import HWAccel

logger = logging.getLogger(__name__)

# The CUDA primary context is the one torch uses: decoders share it instead of each creating a
# context of its own (hundreds of MB of GPU memory apiece).
_CUDA_OPTIONS: dict[str, object] = {"primary_ctx": "1"}


class HardwareDecode:
    """Whether this process still tries NVDEC; it stops after the first open that fails there."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._usable = True

    @property
    def usable(self) -> bool:
        return self._usable

    def open(self, path: Path) -> av.container.InputContainer:
        """``path`` opened for NVDEC while it is usable, else for the CPU decoder."""
        if not self._usable:
            return av.open(str(path))
        try:
            return av.open(str(path), hwaccel=_cuda())
        except av.FFmpegError as exc:
            # A file that the CPU decoder cannot open either raises here: the file was at fault,
            # not the device, and NVDEC stays usable for the next one.
            container = av.open(str(path))
            self._give_up(exc)
            return container

    def _give_up(self, error: av.FFmpegError) -> None:
        with self._lock:
            if not self._usable:
                return
            self._usable = False
        logger.info("NVDEC is not usable here (%s); videos are decoded on the CPU", error)


def _cuda() -> HWAccel:
    return HWAccel(device_type="cuda", allow_software_fallback=True, options=_CUDA_OPTIONS)


HARDWARE_DECODE = HardwareDecode()
"""The process's one record of whether NVDEC opens."""


def open_input(path: Path, hardware: bool) -> av.container.InputContainer:
    """``path`` opened for decoding: on the GPU when ``hardware`` is asked and NVDEC is usable."""
    return HARDWARE_DECODE.open(path) if hardware else av.open(str(path))
