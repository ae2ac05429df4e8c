"""Streaming decode to upright RGB frames at the size the enhancer wants.

One swscale call per frame converts YUV to RGB with the source's own matrix and range and
resizes; rotation is a numpy quarter turn after it (cheaper than rotating the larger picture
first). HDR input is converted to 16-bit RGB and tone-mapped by ``tonemap.hdr_to_sdr``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from typing import cast

import av
import av.container
import numpy as np
from av.video.reformatter import ColorRange, Colorspace, Interpolation, VideoReformatter

from video_enhancer.enhancers.base import Frame, Size
from video_enhancer.media.errors import DecodeFailed
from video_enhancer.media.interlace import Deinterlacer
from video_enhancer.media.nvdec import open_input
from video_enhancer.media.probe import FrameClock, MediaInfo, VideoTrack, stream_at
from video_enhancer.media.tonemap import hdr_to_sdr

_MATRICES = {
    "bt709": Colorspace.ITU709,
    "bt470bg": Colorspace.ITU601,
    "smpte170m": Colorspace.ITU601,
    "bt2020nc": Colorspace.BT2020,
    "bt2020c": Colorspace.BT2020,
}
# Lanczos only when resizing; ACCURATE_RND / FULL_CHR_H_INT cost 20x here for no visible gain.
_RESIZE = Interpolation.LANCZOS
_CONVERT_ONLY = Interpolation.BILINEAR


@dataclass(frozen=True)
class DecodedFrame:
    image: Frame
    """Upright RGB uint8 at the requested size."""
    pts: int
    time_base: Fraction


def source_matrix(video: VideoTrack) -> Colorspace:
    """The YUV matrix of the source; untagged video follows the usual SD/HD convention."""
    if video.color_matrix in _MATRICES:
        return _MATRICES[video.color_matrix]
    return Colorspace.ITU709 if min(video.coded_width, video.coded_height) >= 720 else Colorspace.ITU601


def _coded_size(video: VideoTrack, upright: Size) -> Size:
    """Size to scale to before rotation, so the rotated picture has the upright size."""
    return (upright[1], upright[0]) if video.rotation in (90, 270) else upright


class FrameConverter:
    """Turns decoded frames into upright RGB arrays at ``size``."""

    def __init__(self, video: VideoTrack, size: Size) -> None:
        self._video = video
        self._coded = _coded_size(video, size)
        self._matrix = source_matrix(video)
        self._range = ColorRange.JPEG if video.color_range == "pc" else ColorRange.MPEG
        self._quarter_turns = video.rotation // 90
        resizing = self._coded != (video.coded_width, video.coded_height)
        self._interpolation = _RESIZE if resizing else _CONVERT_ONLY
        # One reformatter for the whole video: it keeps its swscale context, which a frame's own
        # `reformat` would build again for every frame (most of the conversion's cost).
        self._reformatter = VideoReformatter()

    def __call__(self, frame: av.VideoFrame) -> Frame:
        image = self._to_rgb(frame)
        if self._quarter_turns:
            image = np.ascontiguousarray(np.rot90(image, k=self._quarter_turns))
        return image

    def _to_rgb(self, frame: av.VideoFrame) -> Frame:
        hdr = self._video.hdr
        rgb = self._reformatter.reformat(
            frame,
            width=self._coded[0],
            height=self._coded[1],
            format="rgb48le" if hdr else "rgb24",
            src_colorspace=self._matrix,
            src_color_range=self._range,
            dst_color_range=ColorRange.JPEG,
            interpolation=self._interpolation,
        ).to_ndarray()
        if hdr is None:
            return np.asarray(rgb, dtype=np.uint8)
        return hdr_to_sdr(rgb.astype(np.float32) / 65535.0, hdr)


def iter_frames(
    info: MediaInfo, size: Size, start_pts: int | None = None, *, hardware: bool = False
) -> Iterator[DecodedFrame]:
    """Yield every frame of the timeline from ``start_pts`` (inclusive) to the end, in
    presentation order: timestamps as the probe gave them, deinterlaced as it decided.
    ``hardware`` decodes with NVDEC where it is usable (``media.nvdec``); the frames are the same."""
    convert = FrameConverter(info.video, size)
    try:
        with open_input(info.path, hardware) as container:
            for pts, frame in timeline_frames(container, info.video, start_pts):
                yield DecodedFrame(convert(frame), pts, info.video.time_base)
    except (av.FFmpegError, ValueError) as exc:
        raise DecodeFailed(detail=str(exc)) from exc


def timeline_frames(
    container: av.container.InputContainer, video: VideoTrack, start_pts: int | None = None
) -> Iterator[tuple[int, av.VideoFrame]]:
    """Decoded (and deinterlaced) frames with their timeline pts, from ``start_pts`` on."""
    stream = cast(av.VideoStream, stream_at(container, video.index))
    stream.thread_type = "AUTO"
    if start_pts is not None and start_pts > video.first_pts and video.seekable:
        # Seek to the key frame at or before the start, then drop what precedes it.
        container.seek(_source_pts(video, start_pts), stream=stream, backward=True)
    for pts, frame in _timeline(container.decode(stream), video):
        if start_pts is None or pts >= start_pts:
            yield pts, frame


def _source_pts(video: VideoTrack, pts: int) -> int:
    return pts // 2 if video.deinterlace else pts


def _timeline(frames: Iterator[av.VideoFrame], video: VideoTrack) -> Iterator[tuple[int, av.VideoFrame]]:
    clock = FrameClock(video.frame_interval)
    if video.deinterlace is None or video.interlace is None:
        for frame in frames:
            yield clock(frame.pts), frame
        return
    deinterlacer = Deinterlacer(video.source_time_base, video.interlace, video.deinterlace)
    for frame in frames:
        frame.pts = clock(frame.pts)
        for out in deinterlacer.push(frame):
            yield _timeline_pts(out, video), out
    for out in deinterlacer.flush():
        yield _timeline_pts(out, video), out


def _timeline_pts(frame: av.VideoFrame, video: VideoTrack) -> int:
    if frame.pts is None:
        raise DecodeFailed("The deinterlacer returned a frame without a timestamp.")
    ticks = Fraction(frame.pts) * Fraction(frame.time_base or video.time_base) / video.time_base
    return int(ticks)
