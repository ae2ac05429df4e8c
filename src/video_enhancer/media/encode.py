"""Encode enhanced frames into H.264 MP4 pieces, one piece per segment.

One encoder runs across all the segments of a run: stopping and restarting an encoder at
every segment would drain its look-ahead and frame threads each time (the encoder idles while
it flushes). Instead the first frame of every segment is forced to be an IDR frame (x264's
GOPs are closed), so the packet stream can be cut there: every piece starts with a key frame
and decodes on its own. A resumed run starts a new encoder with the same settings, hence the
same parameter sets (SPS/PPS), so its pieces join the earlier ones at packet level
(see ``join.py``). Timestamps are the source's own, in the source time base, relative to each
segment's start in its piece: variable frame rate survives.
"""

from __future__ import annotations

import io
import os
from collections.abc import Callable
from dataclasses import dataclass, replace
from fractions import Fraction
from functools import cache
from pathlib import Path
from typing import cast

import av
import av.container
from av.video.frame import PictureType
from av.video.reformatter import ColorRange, Colorspace, Interpolation, VideoReformatter

from video_enhancer.enhance_options import ENHANCE_DEFAULTS
from video_enhancer.enhancers.base import Frame, Size
from video_enhancer.media.errors import EncodeFailed, EncoderUnavailable

# FFmpeg's values for BT.709 primaries / transfer / matrix and limited ("tv") range.
BT709 = 1
TV_RANGE = 1
NVENC = "h264_nvenc"
_NVENC_PRESETS = {f"p{n}" for n in range(1, 8)}
_PROBE_SIZE = 256  # NVENC refuses pictures smaller than about 145x49
_OUTPUT_RESIZE = Interpolation.LANCZOS
_CONVERT_ONLY = Interpolation.BILINEAR


@dataclass(frozen=True)
class EncoderSettings:
    codec: str = ENHANCE_DEFAULTS.encoder
    """libx264, or h264_nvenc when asked for and present."""
    preset: str = ENHANCE_DEFAULTS.preset
    crf: int = ENHANCE_DEFAULTS.crf
    threads: int = 0
    """0 lets the encoder choose."""

    def codec_options(self) -> dict[str, str]:
        # forced-idr: a frame marked I (a segment start) becomes an IDR frame, where pieces are cut.
        if self.codec == NVENC:
            # NVENC has no CRF; constant quality (cq) in VBR mode is its equivalent.
            preset = self.preset if self.preset in _NVENC_PRESETS else "p6"
            return {"preset": preset, "rc": "vbr", "cq": str(self.crf), "b": "0", "forced-idr": "1"}
        return {"preset": self.preset, "crf": str(self.crf), "forced-idr": "1"}


def choose_encoder(
    settings: EncoderSettings, prefer_speed: bool, opens: Callable[[str], bool] | None = None
) -> EncoderSettings:
    """``settings``, or the GPU's ``h264_nvenc`` when speed is preferred and it opens here.

    Asked for speed, a machine whose FFmpeg has NVENC and whose GPU lets it open encodes there
    (no CPU cost; larger files at the same quality). Anywhere else (no NVIDIA GPU, a driver
    without NVENC, sessions exhausted) the configured CPU encoder stays. ``opens`` tells whether
    an encoder can be opened (default: :func:`encoder_opens`).
    """
    if not prefer_speed or settings.codec == NVENC:
        return settings
    return replace(settings, codec=NVENC) if (opens or encoder_opens)(NVENC) else settings


@cache
def encoder_opens(codec: str) -> bool:
    """Whether ``codec`` is in this FFmpeg build and opens here (a GPU encoder needs its GPU)."""
    host = av.open(io.BytesIO(), mode="w", format="mp4")
    try:
        stream = cast(av.VideoStream, host.add_stream(codec, rate=25))
        stream.width, stream.height, stream.pix_fmt = _PROBE_SIZE, _PROBE_SIZE, "yuv420p"
        host.start_encoding()
    except (av.FFmpegError, ValueError, OSError):
        return False
    finally:
        try:
            host.close()
        except (av.FFmpegError, ValueError, OSError):
            pass  # a stream that never opened has nothing to flush
    return True


def check_encoder(settings: EncoderSettings) -> None:
    """Fail early (before any decoding) when the encoder is not in this FFmpeg build."""
    try:
        av.Codec(settings.codec, "w")
    except (av.FFmpegError, ValueError) as exc:
        raise EncoderUnavailable(
            f"The encoder {settings.codec!r} is not available on this machine.", detail=str(exc)
        ) from exc


class OutputConverter:
    """Enhanced RGB frames to the encoder's input: yuv420p, BT.709, limited range, output size.

    Kept apart from the encoder so that the pipeline runs it on a thread of its own: the thread
    feeding the encoder (the slowest stage on a CPU) and the one feeding the model (on a GPU)
    then wait for nothing else.
    """

    def __init__(self, size: Size) -> None:
        self._size = size
        self._reformatter = VideoReformatter()  # keeps its swscale context across frames

    def __call__(self, image: Frame) -> av.VideoFrame:
        resizing = (image.shape[1], image.shape[0]) != self._size
        return self._reformatter.reformat(
            av.VideoFrame.from_ndarray(image, format="rgb24"),
            width=self._size[0],
            height=self._size[1],
            format="yuv420p",
            dst_colorspace=Colorspace.ITU709,
            src_color_range=ColorRange.JPEG,
            dst_color_range=ColorRange.MPEG,
            interpolation=_OUTPUT_RESIZE if resizing else _CONVERT_ONLY,
        )


@dataclass(frozen=True)
class PieceSpan:
    """Where a piece starts and ends on the source timeline, and its file."""

    index: int
    start_pts: int
    end_pts: int
    path: Path


class SegmentedEncoder:
    """Frames in, one MP4 piece per segment out, from one continuous encoder.

    Call ``begin_piece`` before the first frame of each segment, ``write`` for each frame
    (converted by ``OutputConverter``) with its source ``pts``, and ``finish`` at the end (or
    to stop after the current segment). Both ``write`` and ``finish`` return the pieces that
    became complete: a piece is complete when the encoder emits the first packet of the next
    one, which trails the input by the encoder's look-ahead.
    """

    def __init__(self, size: Size, time_base: Fraction, rate: Fraction, settings: EncoderSettings):
        self._time_base = time_base
        self._pending: list[PieceSpan] = []
        self._writing: tuple[PieceSpan, av.container.OutputContainer, av.VideoStream] | None = None
        self._next_key: int | None = None
        # The encoder's own container only carries the stream whose parameters the pieces copy;
        # it is never written to beyond its header.
        self._header = io.BytesIO()
        self._host = av.open(self._header, mode="w", format="mp4")
        self._stream = self._open_stream(self._host, size, time_base, rate, settings)

    @staticmethod
    def _open_stream(
        host: av.container.OutputContainer,
        size: Size,
        time_base: Fraction,
        rate: Fraction,
        settings: EncoderSettings,
    ) -> av.VideoStream:
        try:
            stream = cast(
                av.VideoStream,
                host.add_stream(settings.codec, rate=rate, options=settings.codec_options()),
            )
            stream.width, stream.height = size
            stream.pix_fmt = "yuv420p"
            stream.time_base = time_base
            context = stream.codec_context
            context.time_base = time_base
            context.thread_count = settings.threads
            # PyAV asks for slice threads by default; x264's frame threads (FFmpeg's own default)
            # encode 720p about 1.25x faster here for the same quality.
            context.thread_type = "FRAME"
            context.color_primaries = context.color_trc = context.colorspace = BT709
            context.color_range = TV_RANGE
            host.start_encoding()  # opens the encoder; its parameter sets land in the stream
        except (av.FFmpegError, ValueError) as exc:
            host.close()
            raise EncoderUnavailable(
                f"The encoder {settings.codec!r} could not be opened.", detail=str(exc)
            ) from exc
        return stream

    def begin_piece(self, piece: PieceSpan) -> None:
        """The next frame written starts ``piece`` (and is encoded as a key frame)."""
        self._pending.append(piece)
        self._next_key = piece.start_pts

    def write(self, frame: av.VideoFrame, pts: int) -> list[PieceSpan]:
        """Encode one frame (from ``OutputConverter``) at source ``pts``.

        Packets keep the encoder's durations: the join gives every packet its source frame's
        display duration, so the pieces need none of their own.
        """
        frame.pts = pts
        frame.time_base = self._time_base
        frame.pict_type = PictureType.I if pts == self._next_key else PictureType.NONE
        return self._encode(frame)

    def finish(self) -> list[PieceSpan]:
        """Flush the encoder: every piece begun so far is complete."""
        done = self._encode(None)
        if self._writing is not None:
            done.append(self._close_piece())
        self._host.close()
        return done

    def abort(self) -> None:
        """Discard everything (the pieces not yet complete are left unfinished)."""
        for container in ([self._writing[1]] if self._writing else []) + [self._host]:
            try:
                container.close()
            except (av.FFmpegError, ValueError, OSError):
                pass  # the pieces are discarded anyway
        self._writing = None

    def _encode(self, frame: av.VideoFrame | None) -> list[PieceSpan]:
        done: list[PieceSpan] = []
        try:
            for packet in self._stream.encode(frame):
                if packet.pts is None or packet.dts is None:
                    raise EncodeFailed(detail="the encoder returned a packet without timestamps")
                if self._writing is None or packet.pts >= self._writing[0].end_pts:
                    if self._writing is not None:
                        done.append(self._close_piece())
                    self._open_piece(packet)
                assert self._writing is not None
                piece, container, stream = self._writing
                if packet.pts < piece.start_pts:  # a frame of an earlier segment after the cut
                    raise EncodeFailed(
                        "The encoder reordered frames across a segment start.",
                        detail=f"piece {piece.index}: packet pts {packet.pts} < {piece.start_pts}",
                    )
                packet.pts -= piece.start_pts
                packet.dts -= piece.start_pts
                packet.stream = stream
                container.mux(packet)
        except (av.FFmpegError, ValueError, OSError) as exc:
            raise EncodeFailed(detail=str(exc)) from exc
        return done

    def _open_piece(self, packet: av.Packet) -> None:
        if not self._pending:
            raise EncodeFailed(detail=f"a packet at pts {packet.pts} belongs to no piece")
        piece = self._pending.pop(0)
        # The closed GOP guarantees it: a piece's packets start with its own key frame.
        if packet.pts != piece.start_pts or not packet.is_keyframe:
            raise EncodeFailed(
                "The encoder did not start a segment with a key frame.",
                detail=f"piece {piece.index}: first packet pts {packet.pts}, key {packet.is_keyframe}",
            )
        container = av.open(os.fspath(piece.path), mode="w", format="mp4")
        stream = container.add_stream_from_template(self._stream)
        self._writing = (piece, container, stream)

    def _close_piece(self) -> PieceSpan:
        assert self._writing is not None
        piece, container, _ = self._writing
        self._writing = None
        container.close()
        return piece
