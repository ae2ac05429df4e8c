"""Probe a video: what it really contains, measured rather than taken from the header.

The container's claimed duration can be wrong (or forged), so the duration and frame count
come from demuxing every video packet: cheap (no decoding) and exact. The first frame is
decoded to prove the codec works here and to read the display matrix and colour tags as
the decoder sees them.
"""

from __future__ import annotations

import itertools
import os
from array import array
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Literal, cast

import av
import av.container
import av.stream

from video_enhancer.media.errors import InvalidVideo, UnsupportedCodec

HdrKind = Literal["pq", "hlg"]

# FFmpeg's AVColorTransferCharacteristic / AVColorPrimaries / AVColorSpace values (stable ABI).
TRANSFER_NAMES = {
    1: "bt709",
    2: "unknown",
    4: "gamma22",
    5: "gamma28",
    6: "smpte170m",
    8: "linear",
    13: "iec61966-2-1",
    14: "bt2020-10",
    15: "bt2020-12",
    16: "smpte2084",
    18: "arib-std-b67",
}
PRIMARIES_NAMES = {1: "bt709", 2: "unknown", 5: "bt470bg", 6: "smpte170m", 9: "bt2020"}
MATRIX_NAMES = {
    0: "rgb",
    1: "bt709",
    2: "unknown",
    5: "bt470bg",
    6: "smpte170m",
    9: "bt2020nc",
    10: "bt2020c",
}
TRC_PQ, TRC_HLG = 16, 18

# A frame interval that differs from the median by more than this fraction means variable rate.
VFR_TOLERANCE = 0.05


@dataclass(frozen=True)
class AudioTrack:
    index: int
    codec: str
    channels: int
    channel_layout: str
    sample_rate: int


@dataclass(frozen=True)
class VideoTrack:
    index: int
    codec: str
    coded_width: int
    coded_height: int
    rotation: int
    """Counter-clockwise degrees (0, 90, 180, 270) to turn the coded picture upright."""
    pix_fmt: str
    bit_depth: int
    time_base: Fraction
    frame_count: int
    frame_rate: Fraction
    """Average frames per second measured from the timestamps."""
    variable_frame_rate: bool
    color_transfer: str
    color_primaries: str
    color_matrix: str
    color_range: str
    hdr: HdrKind | None
    first_pts: int
    end_pts: int
    """Presentation end of the last frame (its pts plus its duration), in ``time_base``."""
    frame_pts: tuple[int, ...] = field(repr=False, compare=False)
    """Every frame's pts in presentation order; segments are cut on these."""

    @property
    def width(self) -> int:
        """Upright width (what a viewer sees)."""
        return self.coded_height if self.rotation in (90, 270) else self.coded_width

    @property
    def height(self) -> int:
        return self.coded_width if self.rotation in (90, 270) else self.coded_height

    @property
    def duration_s(self) -> float:
        return float((self.end_pts - self.first_pts) * self.time_base)


@dataclass(frozen=True)
class MediaInfo:
    path: Path
    container: str
    size_bytes: int
    duration_s: float
    """Real duration of the video track, measured from its packets."""
    claimed_duration_s: float | None
    """What the container header says; informative only."""
    video: VideoTrack
    audio: tuple[AudioTrack, ...]
    creation_time: str | None

    @property
    def has_audio(self) -> bool:
        return bool(self.audio)


def probe(path: str | os.PathLike[str]) -> MediaInfo:
    """Describe the video at ``path``; raise InvalidVideo or UnsupportedCodec if it cannot be used."""
    path = Path(path)
    size = _file_size(path)
    with _open(path) as container:
        stream = _video_stream(container)
        decoder_name = _check_decoder(stream)
        first = _decode_first_frame(container, stream)
        stream_index = stream.index
    # A fresh demuxer rather than a seek: seeking back to the start is not reliable in every format.
    with _open(path) as container:
        stream = cast(av.VideoStream, stream_at(container, stream_index))
        pts, end_pts = _scan_packets(container, stream)
        video = _video_track(stream, decoder_name, first, pts, end_pts)
        return MediaInfo(
            path=path,
            container=container.format.name,
            size_bytes=size,
            duration_s=video.duration_s,
            claimed_duration_s=container.duration / 1_000_000 if container.duration else None,
            video=video,
            audio=tuple(_audio_track(s) for s in container.streams.audio),
            creation_time=_creation_time(container),
        )


def stream_at(container: av.container.InputContainer, index: int) -> av.stream.Stream:
    """The stream with this absolute index (``container.streams[i]`` counts per type)."""
    return next(s for s in container.streams if s.index == index)


def _file_size(path: Path) -> int:
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise InvalidVideo("The video file cannot be read.", detail=str(exc)) from exc
    if size == 0:
        raise InvalidVideo("The video file is empty.")
    return size


def _open(path: Path) -> av.container.InputContainer:
    try:
        return av.open(str(path), mode="r")
    except (av.FFmpegError, UnicodeDecodeError, ValueError) as exc:
        raise InvalidVideo("The file is not a video or is damaged.", detail=str(exc)) from exc


def _video_stream(container: av.container.InputContainer) -> av.VideoStream:
    # Cover art in audio files shows up as a one-frame "video" stream; it is not a video.
    streams = [s for s in container.streams.video if not s.disposition & av.stream.Disposition.attached_pic]
    if not streams:
        raise InvalidVideo("The file has no video track.")
    return streams[0]


def _check_decoder(stream: av.VideoStream) -> str:
    try:
        context = stream.codec_context
    except (av.FFmpegError, ValueError) as exc:
        raise UnsupportedCodec("The video codec is not supported.", detail=str(exc)) from exc
    if context is None or not context.codec.is_decoder:
        raise UnsupportedCodec("The video codec is not supported.")
    return str(context.name)


def _decode_first_frame(container: av.container.InputContainer, stream: av.VideoStream) -> av.VideoFrame:
    try:
        for frame in container.decode(stream):
            return frame
    except av.error.DecoderNotFoundError as exc:  # type: ignore[attr-defined]
        raise UnsupportedCodec("The video codec is not supported.", detail=str(exc)) from exc
    except (av.FFmpegError, ValueError) as exc:
        raise InvalidVideo("The video cannot be decoded; the file is damaged.", detail=str(exc)) from exc
    raise InvalidVideo("The video track contains no picture; the file is damaged or truncated.")


def _scan_packets(container: av.container.InputContainer, stream: av.VideoStream) -> tuple[list[int], int]:
    """Every video packet's pts (sorted) and the presentation end of the last frame shown."""
    pts: array[int] = array("q")
    shown_last: tuple[int, int] | None = None  # (pts, duration) of the packet with the largest pts
    reordered = False  # decode order differs from display order (B-frames)
    try:
        for packet in container.demux(stream):
            if packet.size == 0 or packet.pts is None:
                continue  # the flush packet at the end, or a packet the decoder will not show
            reordered = reordered or (bool(pts) and packet.pts < pts[-1])
            pts.append(packet.pts)
            if shown_last is None or packet.pts > shown_last[0]:
                shown_last = (packet.pts, packet.duration or 0)
    except (av.FFmpegError, ValueError) as exc:
        raise InvalidVideo("The video is truncated or damaged.", detail=str(exc)) from exc
    if not pts or shown_last is None:
        raise InvalidVideo("The video track has no frames.")
    if stream.frames and len(pts) < stream.frames:
        # The index (e.g. an MP4 moov at the front) promises more frames than the file holds.
        raise InvalidVideo("The video is truncated.", detail=f"{len(pts)} of {stream.frames} frames present")
    ordered = sorted(pts)
    return ordered, shown_last[0] + _last_frame_duration(shown_last[1], reordered, ordered)


def _last_frame_duration(duration: int, reordered: bool, ordered: list[int]) -> int:
    """How long the last frame shown lasts, from its packet's ``duration``.

    MP4 stores decode-time deltas as packet durations. They are display durations when frames
    are decoded in display order; with B-frames they are not (in variable-rate video they can
    be off by several frames), so there the last frame's duration is capped at the usual
    frame interval.
    """
    usual = _median_interval(ordered)
    if duration > 0 and (not reordered or usual == 0):
        return duration
    candidates = [d for d in (duration, usual) if d > 0]
    return min(candidates) if candidates else 1


def _median_interval(pts: list[int]) -> int:
    intervals = sorted(b - a for a, b in itertools.pairwise(pts))
    return intervals[len(intervals) // 2] if intervals else 0


def _is_variable(pts: list[int]) -> bool:
    median = _median_interval(pts)
    if median <= 0:
        return False
    limit = max(1.0, median * VFR_TOLERANCE)
    return any(abs((b - a) - median) > limit for a, b in itertools.pairwise(pts))


def _video_track(
    stream: av.VideoStream, decoder: str, first: av.VideoFrame, pts: list[int], end_pts: int
) -> VideoTrack:
    time_base = stream.time_base or Fraction(1, 90000)
    duration = (end_pts - pts[0]) * time_base
    trc = int(first.color_trc)
    pix_fmt = first.format.name
    return VideoTrack(
        index=stream.index,
        codec=decoder,
        coded_width=first.width,
        coded_height=first.height,
        rotation=_normalise_rotation(first.rotation),
        pix_fmt=pix_fmt,
        bit_depth=max(c.bits for c in av.VideoFormat(pix_fmt).components),
        time_base=Fraction(time_base),
        frame_count=len(pts),
        frame_rate=Fraction(len(pts)) / duration if duration > 0 else Fraction(0),
        variable_frame_rate=_is_variable(pts),
        color_transfer=TRANSFER_NAMES.get(trc, str(trc)),
        color_primaries=PRIMARIES_NAMES.get(int(first.color_primaries), str(int(first.color_primaries))),
        color_matrix=MATRIX_NAMES.get(int(first.colorspace), str(int(first.colorspace))),
        color_range={1: "tv", 2: "pc"}.get(int(first.color_range), "unknown"),
        hdr="pq" if trc == TRC_PQ else "hlg" if trc == TRC_HLG else None,
        first_pts=pts[0],
        end_pts=end_pts,
        frame_pts=tuple(pts),
    )


def _normalise_rotation(degrees: float) -> int:
    """Snap the display matrix angle to a quarter turn; other angles are not used by cameras."""
    return round(degrees / 90.0) % 4 * 90


def _audio_track(stream: av.AudioStream) -> AudioTrack:
    context = stream.codec_context
    return AudioTrack(
        index=stream.index,
        codec=str(context.name),
        channels=context.layout.nb_channels,
        channel_layout=context.layout.name,
        sample_rate=int(context.sample_rate or 0),
    )


def _creation_time(container: av.container.InputContainer) -> str | None:
    for metadata in [container.metadata, *(s.metadata for s in container.streams)]:
        if metadata.get("creation_time"):
            return str(metadata["creation_time"])
    return None
