"""Encode enhanced RGB frames into an H.264 MP4 piece (one piece per segment).

Every piece is encoded with identical settings so its parameter sets (SPS/PPS) match and the
pieces can be joined at packet level (see ``join.py``). Timestamps are the source's own,
relative to the segment start, in the source time base: variable frame rate survives.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import cast

import av
import av.container
from av.video.reformatter import ColorRange, Colorspace, Interpolation, VideoReformatter

from video_enhancer.enhancers.base import Frame, Size
from video_enhancer.media.errors import EncodeFailed, EncoderUnavailable

# FFmpeg's values for BT.709 primaries / transfer / matrix and limited ("tv") range.
BT709 = 1
TV_RANGE = 1
_NVENC_PRESETS = {f"p{n}" for n in range(1, 8)}
_OUTPUT_RESIZE = Interpolation.LANCZOS
_CONVERT_ONLY = Interpolation.BILINEAR


@dataclass(frozen=True)
class EncoderSettings:
    codec: str = "libx264"
    """libx264, or h264_nvenc when asked for and present."""
    preset: str = "slow"
    crf: int = 18
    threads: int = 0
    """0 lets the encoder choose."""

    def codec_options(self) -> dict[str, str]:
        if self.codec == "h264_nvenc":
            # NVENC has no CRF; constant quality (cq) in VBR mode is its equivalent.
            preset = self.preset if self.preset in _NVENC_PRESETS else "p6"
            return {"preset": preset, "rc": "vbr", "cq": str(self.crf), "b": "0"}
        return {"preset": self.preset, "crf": str(self.crf)}


def check_encoder(settings: EncoderSettings) -> None:
    """Fail early (before any decoding) when the encoder is not in this FFmpeg build."""
    try:
        av.Codec(settings.codec, "w")
    except (av.FFmpegError, ValueError) as exc:
        raise EncoderUnavailable(
            f"The encoder {settings.codec!r} is not available on this machine.", detail=str(exc)
        ) from exc


class PieceEncoder:
    """Writes one segment: RGB frames in, an MP4 file with one H.264 track out."""

    def __init__(
        self, path: Path, size: Size, time_base: Fraction, rate: Fraction, settings: EncoderSettings
    ):
        self.path = path
        self._size = size
        self._time_base = time_base
        self._durations: dict[int, int] = {}
        self._container = self._open(path, size, time_base, rate, settings)
        self._stream: av.VideoStream = self._container.streams.video[0]
        self._reformatter = VideoReformatter()  # keeps its swscale context across frames

    @staticmethod
    def _open(
        path: Path, size: Size, time_base: Fraction, rate: Fraction, settings: EncoderSettings
    ) -> av.container.OutputContainer:
        container = av.open(os.fspath(path), mode="w", format="mp4")
        try:
            stream = cast(
                av.VideoStream,
                container.add_stream(settings.codec, rate=rate, options=settings.codec_options()),
            )
            stream.width, stream.height = size
            stream.pix_fmt = "yuv420p"
            stream.time_base = time_base
            context = stream.codec_context
            context.time_base = time_base
            context.thread_count = settings.threads
            context.color_primaries = context.color_trc = context.colorspace = BT709
            context.color_range = TV_RANGE
            context.open()
        except (av.FFmpegError, ValueError) as exc:
            container.close()
            raise EncoderUnavailable(
                f"The encoder {settings.codec!r} could not be opened.", detail=str(exc)
            ) from exc
        return container

    def write(self, image: Frame, pts: int, duration: int) -> None:
        """Encode one frame; ``pts`` and ``duration`` are relative to the segment, in ``time_base``."""
        resizing = (image.shape[1], image.shape[0]) != self._size
        frame = self._reformatter.reformat(
            av.VideoFrame.from_ndarray(image, format="rgb24"),
            width=self._size[0],
            height=self._size[1],
            format="yuv420p",
            dst_colorspace=Colorspace.ITU709,
            src_color_range=ColorRange.JPEG,
            dst_color_range=ColorRange.MPEG,
            interpolation=_OUTPUT_RESIZE if resizing else _CONVERT_ONLY,
        )
        frame.pts = pts
        frame.time_base = self._time_base
        self._durations[pts] = duration
        self._encode(frame)

    def close(self) -> Path:
        """Flush the encoder and finish the file."""
        self._encode(None)
        self._container.close()
        return self.path

    def abort(self) -> None:
        try:
            self._container.close()
        except (av.FFmpegError, ValueError):
            pass  # the piece is discarded anyway

    def _encode(self, frame: av.VideoFrame | None) -> None:
        try:
            for packet in self._stream.encode(frame):
                # Encoders leave packet durations unset; the MP4 muxer would guess the last one.
                packet.duration = self._durations.pop(packet.pts, 0) if packet.pts is not None else 0
                self._container.mux(packet)
        except (av.FFmpegError, ValueError) as exc:
            raise EncodeFailed(detail=str(exc)) from exc
