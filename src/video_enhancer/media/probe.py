"""Probe a video: what it really contains, measured rather than taken from the header.

Steps of ``probe`` (refusals come before any expensive work):

1. open the file; refuse still images, files without a video track, codecs this build lacks,
   and pictures larger than ``MediaLimits.max_pixels`` (from the header, nothing decoded yet);
2. demux every packet (cheap): video packets the demuxer does not mark discard (edit lists),
   the span of the chosen audio track; refuse a file whose index promises clearly more frames
   than it holds (truncated), and frame rates or frame counts above the limits;
3. decode every video frame: the frame count and timestamps are what the decoder really gives
   (packed B-frames, timestamps only the decoder knows, frames an edit list hides), so the
   pipeline never finds a mismatch at the end; a decode error here refuses the file before any
   enhancement. The first frames are checked for interlacing (``interlace.py``);
4. build the timeline the pipeline works on: the decoded timestamps, or for interlaced video
   deinterlaced to one frame per field (or per frame), in half the source time base.

The measured duration, which is charged, is the end of the last frame or of the audio, whichever
is later; the last frame counts for at most one usual frame interval (0.1 s for a single frame),
so one frame with a long declared duration cannot stretch the video.
"""

from __future__ import annotations

import itertools
import math
import os
from array import array
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Literal, cast

import av
import av.container
import av.stream

from video_enhancer.media.errors import InvalidVideo, NotAVideo, UnsupportedCodec
from video_enhancer.media.interlace import (
    DeinterlaceRate,
    FieldOrder,
    InterlaceSampler,
    field_timeline,
    stream_field_order,
)
from video_enhancer.media.limits import MediaLimits, PacketCounts, check_frames, check_packets, check_pixels
from video_enhancer.media.timestamps import FrameClock, median_interval, usual_interval

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


# The muxers FFmpeg picks for a lone picture (a PNG or JPEG renamed .mp4).
STILL_IMAGE_FORMATS = ("image2", "_pipe")
# The index may promise a frame or so more than the file holds (AVI headers often do); more than
# this share missing means the file was cut short.
MISSING_FRAMES_TOLERATED = 0.01
SINGLE_FRAME_SLACK_S = Fraction(1, 10)


@dataclass(frozen=True)
class ProbeOptions:
    limits: MediaLimits | None = field(default_factory=MediaLimits)
    """None: no limits (reading back our own outputs)."""
    deinterlace: DeinterlaceRate | None = "field"
    """How interlaced video is deinterlaced; None: never (outputs are progressive)."""


@dataclass(frozen=True)
class AudioTrack:
    index: int
    codec: str
    channels: int
    channel_layout: str
    sample_rate: int
    default: bool = False
    """The track a player would play (its default flag, else the first track)."""
    start_s: float = 0.0
    end_s: float = 0.0
    """Presentation end of its last packet, seconds on the container timeline."""


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
    """Time base of the timeline (``frame_pts``): the source's, or half of it when deinterlacing."""
    frame_count: int
    frame_rate: Fraction
    """Average frames per second of the timeline, measured from the timestamps."""
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
    """Every frame's pts in presentation order, as the decoder (and deinterlacer) give them."""
    sample_aspect_ratio: Fraction = Fraction(1)
    """Width of a coded pixel over its height on screen."""
    interlace: FieldOrder | None = None
    """Field order of interlaced video; None for progressive."""
    deinterlace: DeinterlaceRate | None = None
    """What the decoder does with it: one frame per field, per frame, or nothing."""
    source_time_base: Fraction = Fraction(0)
    """The stream's own time base (decoded timestamps are in it)."""
    synthetic_pts: int = 0
    """Source frames whose timestamp was missing or out of order and was given one."""
    frame_interval: int = 0
    """The usual source frame interval in ``source_time_base`` (gives missing timestamps)."""

    @property
    def display_coded_width(self) -> int:
        """The coded picture's width once its pixels are made square."""
        return max(1, round(self.coded_width * self.sample_aspect_ratio))

    @property
    def width(self) -> int:
        """Upright display width (what a viewer sees, in square pixels)."""
        return self.coded_height if self.rotation in (90, 270) else self.display_coded_width

    @property
    def height(self) -> int:
        return self.display_coded_width if self.rotation in (90, 270) else self.coded_height

    @property
    def duration_s(self) -> float:
        return float((self.end_pts - self.first_pts) * self.time_base)

    @property
    def usual_interval_s(self) -> float:
        """The source's usual frame interval (the median), in seconds."""
        return float(self.frame_interval * self.source_time_base)

    @property
    def seekable(self) -> bool:
        """Decoding may start at a key frame: every timestamp comes from the file."""
        return self.synthetic_pts == 0


@dataclass(frozen=True)
class MediaInfo:
    path: Path
    container: str
    size_bytes: int
    duration_s: float
    """Measured duration (charged): from the first frame to the end of the video or of the
    audio, whichever is later."""
    claimed_duration_s: float | None
    """What the container header says; informative only."""
    video: VideoTrack
    audio: tuple[AudioTrack, ...]
    """The audio track the output keeps (the default one), or none."""
    creation_time: str | None
    audio_tracks_in_source: int = 0

    @property
    def has_audio(self) -> bool:
        return bool(self.audio)


def probe(path: str | os.PathLike[str], options: ProbeOptions | None = None) -> MediaInfo:
    """Describe the video at ``path``; raise InvalidVideo, UnsupportedCodec or a limit error if it
    cannot be used. See the module docstring for the steps."""
    options = options or ProbeOptions()
    path = Path(path)
    size = _file_size(path)
    with _open(path) as container:
        _refuse_still_image(container)
        stream = _video_stream(container)
        stream_index = stream.index
        decoder_name = _check_decoder(stream)
        check_pixels(
            int(stream.codec_context.width or 0), int(stream.codec_context.height or 0), options.limits
        )
        audio_streams = list(container.streams.audio)
        chosen = _default_audio(audio_streams)
        scan = _scan_packets(container, stream, chosen)
        check_packets(scan.counts(), options.limits)
        facts = _ContainerFacts(
            container.format.name,
            container.duration / 1_000_000 if container.duration else None,
            _creation_time(container),
            tuple(_audio_track(chosen, scan)) if chosen is not None else (),
            len(audio_streams),
        )
    with _open(path) as container:
        decoded = _decode_all(container, stream_index, scan, detect_interlace=options.deinterlace is not None)
    video = _video_track(decoded, decoder_name, options.deinterlace)
    check_frames(video.frame_count, _measured(video, facts.audio), options.limits)
    return MediaInfo(
        path=path,
        container=facts.format,
        size_bytes=size,
        duration_s=_measured(video, facts.audio),
        claimed_duration_s=facts.claimed_duration_s,
        video=video,
        audio=facts.audio,
        creation_time=facts.creation_time,
        audio_tracks_in_source=facts.audio_tracks,
    )


def stream_at(container: av.container.InputContainer, index: int) -> av.stream.Stream:
    """The stream with this absolute index (``container.streams[i]`` counts per type)."""
    return next(s for s in container.streams if s.index == index)


@dataclass(frozen=True)
class _ContainerFacts:
    format: str
    claimed_duration_s: float | None
    creation_time: str | None
    audio: tuple[AudioTrack, ...]
    audio_tracks: int


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


def _refuse_still_image(container: av.container.InputContainer) -> None:
    name = container.format.name
    if name == STILL_IMAGE_FORMATS[0] or name.endswith(STILL_IMAGE_FORMATS[1]):
        raise NotAVideo(detail=f"format {name}")


def _video_stream(container: av.container.InputContainer) -> av.VideoStream:
    # Cover art shows up as a one-frame "video" stream; it is not the video.
    streams = [s for s in container.streams.video if not s.disposition & av.stream.Disposition.attached_pic]
    if not streams:
        raise InvalidVideo("The file has no video track.")
    return streams[0]


def _default_audio(streams: list[av.AudioStream]) -> av.AudioStream | None:
    """The track a player picks: the first flagged default, else the first one."""
    flagged = [s for s in streams if s.disposition & av.stream.Disposition.default]
    candidates = flagged or streams
    return candidates[0] if candidates else None


def _check_decoder(stream: av.VideoStream) -> str:
    try:
        context = stream.codec_context
    except (av.FFmpegError, ValueError) as exc:
        raise UnsupportedCodec("The video codec is not supported.", detail=str(exc)) from exc
    if context is None or not context.codec.is_decoder:
        raise UnsupportedCodec("The video codec is not supported.")
    return str(context.name)


@dataclass(frozen=True)
class _PacketScan:
    time_base: Fraction
    packets: int
    """Video packets the decoder will show (not marked discard)."""
    span: list[int] = field(repr=False)
    """Their timestamps (pts, else dts), sorted."""
    declared_rate: Fraction
    audio_span: tuple[float, float] | None

    def counts(self) -> PacketCounts:
        audio_s = self.audio_span[1] - self.audio_span[0] if self.audio_span else 0.0
        return PacketCounts(self.time_base, self.packets, self.span, self.declared_rate, audio_s)


class _PacketTally:
    """Counts while demuxing: video packets shown and hidden (discard), audio's start and end."""

    def __init__(self) -> None:
        self.times: array[int] = array("q")
        self.shown = 0
        self.hidden = 0  # outside the edit list: in the index, never shown
        self.audio_start, self.audio_end = math.inf, -math.inf

    def video(self, packet: av.Packet) -> None:
        if packet.is_discard:
            self.hidden += 1
            return
        self.shown += 1  # a raw elementary stream has no timestamps at all: the decoder gives them
        stamp = packet.pts if packet.pts is not None else packet.dts
        if stamp is not None:
            self.times.append(stamp)

    def audio(self, packet: av.Packet) -> None:
        if packet.is_discard or packet.pts is None or packet.time_base is None:
            return
        start = float(packet.pts * packet.time_base)
        self.audio_start = min(self.audio_start, start)
        self.audio_end = max(self.audio_end, start + float((packet.duration or 0) * packet.time_base))


def _scan_packets(
    container: av.container.InputContainer, stream: av.VideoStream, audio: av.AudioStream | None
) -> _PacketScan:
    """One pass over the video (and chosen audio) packets; nothing is decoded."""
    tally = _PacketTally()
    try:
        for packet in container.demux([stream] if audio is None else [stream, audio]):
            if packet.size:
                (tally.video if packet.stream_index == stream.index else tally.audio)(packet)
    except (av.FFmpegError, ValueError) as exc:
        raise InvalidVideo("The video is truncated or damaged.", detail=str(exc)) from exc
    if not tally.shown:
        raise InvalidVideo("The video track has no frames.")
    _refuse_truncated(tally.shown + tally.hidden, stream.frames)
    rate = stream.average_rate or stream.guessed_rate or Fraction(0)
    audio_span = (tally.audio_start, tally.audio_end) if tally.audio_end > -math.inf else None
    return _PacketScan(
        Fraction(stream.time_base or Fraction(1, 90000)),
        tally.shown,
        sorted(tally.times),
        Fraction(rate),
        audio_span,
    )


def _refuse_truncated(present: int, promised: int) -> None:
    # The index (e.g. an MP4 moov at the front) promises more frames than the file holds.
    if promised and promised - present > max(1, promised * MISSING_FRAMES_TOLERATED):
        raise InvalidVideo("The video is truncated.", detail=f"{present} of {promised} frames present")


@dataclass
class _Decoded:
    """What decoding every frame found (timestamps in the source time base)."""

    stream_index: int
    time_base: Fraction
    first: av.VideoFrame
    pts: list[int]
    last_duration: int
    interval: int
    synthetic: int
    sample_aspect_ratio: Fraction
    interlace: FieldOrder | None


def _decode_all(
    container: av.container.InputContainer, index: int, scan: _PacketScan, *, detect_interlace: bool
) -> _Decoded:
    stream = cast(av.VideoStream, stream_at(container, index))
    stream.thread_type = "AUTO"
    clock = FrameClock(usual_interval(scan.time_base, scan.span, scan.declared_rate))
    sampler = InterlaceSampler(scan.time_base, stream_field_order(stream))
    pts: array[int] = array("q")
    first: av.VideoFrame | None = None
    last_duration = 0
    try:
        for frame in container.decode(stream):
            assert isinstance(frame, av.VideoFrame)
            first = first or frame
            pts.append(clock(frame.pts))
            last_duration = int(frame.duration or 0)
            if detect_interlace:
                sampler.add(frame)
    except av.error.DecoderNotFoundError as exc:  # type: ignore[attr-defined]
        raise UnsupportedCodec("The video codec is not supported.", detail=str(exc)) from exc
    except (av.FFmpegError, ValueError) as exc:
        raise InvalidVideo("The video cannot be decoded; the file is damaged.", detail=str(exc)) from exc
    if first is None:
        raise InvalidVideo("The video track contains no picture; the file is damaged or truncated.")
    sar = Fraction(stream.codec_context.sample_aspect_ratio or 1)
    return _Decoded(
        index,
        scan.time_base,
        first,
        list(pts),
        last_duration,
        clock.interval,
        clock.synthetic,
        sar if sar > 0 else Fraction(1),
        sampler.verdict(),
    )


def _end_of_last_frame(decoded: _Decoded) -> int:
    """The last frame lasts its own duration, but at most the usual interval (one nominal frame);
    a lone frame at most 0.1 s."""
    pts = decoded.pts
    cap = median_interval(pts) if len(pts) > 1 else round(SINGLE_FRAME_SLACK_S / decoded.time_base)
    own = decoded.last_duration if decoded.last_duration > 0 else cap
    return pts[-1] + max(1, min(own, cap))


def _is_variable(pts: list[int]) -> bool:
    median = median_interval(pts)
    if median <= 0:
        return False
    limit = max(1.0, median * VFR_TOLERANCE)
    return any(abs((b - a) - median) > limit for a, b in itertools.pairwise(pts))


def _timeline(
    decoded: _Decoded, rate: DeinterlaceRate | None
) -> tuple[Fraction, list[int], int, DeinterlaceRate | None]:
    """Time base, pts and end of what the pipeline will enhance."""
    end = _end_of_last_frame(decoded)
    if decoded.interlace is None or rate is None:
        return decoded.time_base, decoded.pts, end, None
    fields, field_end = field_timeline(decoded.pts, end, rate)
    return decoded.time_base / 2, fields, field_end, rate


def _video_track(decoded: _Decoded, decoder: str, rate: DeinterlaceRate | None) -> VideoTrack:
    time_base, pts, end_pts, deinterlace = _timeline(decoded, rate)
    duration = (end_pts - pts[0]) * time_base
    first = decoded.first
    trc = int(first.color_trc)
    pix_fmt = first.format.name
    return VideoTrack(
        index=decoded.stream_index,
        codec=decoder,
        coded_width=first.width,
        coded_height=first.height,
        rotation=_normalise_rotation(first.rotation),
        pix_fmt=pix_fmt,
        bit_depth=max(c.bits for c in av.VideoFormat(pix_fmt).components),
        time_base=time_base,
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
        sample_aspect_ratio=decoded.sample_aspect_ratio,
        interlace=decoded.interlace,
        deinterlace=deinterlace,
        source_time_base=decoded.time_base,
        synthetic_pts=decoded.synthetic,
        frame_interval=decoded.interval,
    )


def _measured(video: VideoTrack, audio: tuple[AudioTrack, ...]) -> float:
    """From the first frame to the later of the video's end and the audio's end."""
    start = float(video.first_pts * video.time_base)
    ends = [float(video.end_pts * video.time_base), *(track.end_s for track in audio)]
    return max(ends) - start


def _normalise_rotation(degrees: float) -> int:
    """Snap the display matrix angle to a quarter turn; other angles are not used by cameras."""
    return round(degrees / 90.0) % 4 * 90


def _audio_track(stream: av.AudioStream, scan: _PacketScan) -> list[AudioTrack]:
    context = stream.codec_context
    start, end = scan.audio_span or (0.0, 0.0)
    return [
        AudioTrack(
            index=stream.index,
            codec=str(context.name),
            channels=context.layout.nb_channels,
            channel_layout=context.layout.name,
            sample_rate=int(context.sample_rate or 0),
            default=True,
            start_s=start,
            end_s=end,
        )
    ]


def _creation_time(container: av.container.InputContainer) -> str | None:
    for metadata in [container.metadata, *(s.metadata for s in container.streams)]:
        if metadata.get("creation_time"):
            return str(metadata["creation_time"])
    return None
