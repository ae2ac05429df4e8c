"""Join encoded pieces into the final MP4 without re-encoding, and add the source audio once.

Video packets are copied from the pieces with their timestamps moved back to the source
timeline (each piece starts at 0). The source's default audio track is taken over the whole
video in one pass, so segment joins cannot create audio gaps; it is copied or fitted to the
video and encoded to AAC (``audio.py``). Video and audio packets are written in
time order (a merge of two sorted streams) so the file is interleaved and the muxer never
buffers a whole track.
"""

from __future__ import annotations

import heapq
import os
from collections.abc import Iterator, Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import cast

import av
import av.container

from video_enhancer.media.audio import (
    AAC_BITRATE_PER_CHANNEL,
    AudioFitter,
    can_copy,
    fitted_audio,
    output_format,
)
from video_enhancer.media.errors import EncodeFailed
from video_enhancer.media.probe import AudioTrack, MediaInfo, stream_at


@dataclass(frozen=True)
class Piece:
    path: Path
    start_pts: int
    """Source pts (in the source video time base) of the piece's first frame."""


TimedPacket = tuple[float, int, av.Packet]


def join_pieces(info: MediaInfo, pieces: Sequence[Piece], output: Path) -> None:
    """Write ``output`` from ``pieces`` (in order) plus the source's audio tracks."""
    try:
        with ExitStack() as stack:
            out = stack.enter_context(_open_output(output, info))
            _write(out, stack, info, pieces)
    except (av.FFmpegError, ValueError, OSError) as exc:
        raise EncodeFailed("The enhanced pieces could not be joined.", detail=str(exc)) from exc


def _open_output(output: Path, info: MediaInfo) -> av.container.OutputContainer:
    container = av.open(os.fspath(output), mode="w", format="mp4", options={"movflags": "+faststart"})
    if info.creation_time:
        container.metadata["creation_time"] = info.creation_time
    return container


def _write(
    out: av.container.OutputContainer, stack: ExitStack, info: MediaInfo, pieces: Sequence[Piece]
) -> None:
    origin = info.video.first_pts * info.video.time_base
    with av.open(str(pieces[0].path)) as first:
        video_out = out.add_stream_from_template(first.streams.video[0])
        extradata = first.streams.video[0].codec_context.extradata
    streams: list[Iterator[TimedPacket]] = [_video_packets(pieces, info, video_out, extradata, origin)]
    for order, track in enumerate(info.audio, start=1):
        # Each audio track demuxes on its own file handle: the merge advances them independently.
        source = stack.enter_context(av.open(str(info.path)))
        audio_in = cast(av.AudioStream, stream_at(source, track.index))
        streams.append(_audio_packets(out, source, audio_in, info, track, order))
    for _, _, packet in heapq.merge(*streams, key=lambda item: (item[0], item[1])):
        out.mux(packet)


def _video_packets(
    pieces: Sequence[Piece],
    info: MediaInfo,
    stream: av.VideoStream,
    extradata: bytes | None,
    origin: Fraction,
) -> Iterator[TimedPacket]:
    """The pieces' packets on the joined timeline, in decode order."""
    durations = _frame_durations(info)
    first_dts: int | None = None
    last_dts: int | None = None
    held: av.Packet | None = None  # each packet is yielded once the next one is known
    for packet, piece_start in _demux_pieces(pieces, extradata, info.video.time_base):
        # The muxer derives the track's presentation end (edit list) from each packet's own
        # display duration, given here.
        display = durations.get(packet.pts * packet.time_base + piece_start, Fraction(0))  # type: ignore[operator]
        packet.duration = int(display / packet.time_base)
        last_dts = _shift(packet, piece_start - origin, last_dts)
        first_dts = last_dts if first_dts is None else first_dts
        packet.stream = stream
        if held is not None:
            yield _timed_video(held)
        held = packet
    if held is not None and first_dts is not None and last_dts is not None:
        held.duration = _closing_duration(held, info, last_dts - first_dts)
        yield _timed_video(held)


def _demux_pieces(
    pieces: Sequence[Piece], extradata: bytes | None, time_base: Fraction
) -> Iterator[tuple[av.Packet, Fraction]]:
    """Each piece's packets (those with a timestamp) with the piece's start time in seconds."""
    for piece in pieces:
        with av.open(str(piece.path)) as container:
            piece_stream = container.streams.video[0]
            if piece_stream.codec_context.extradata != extradata:
                raise EncodeFailed("Segment pieces were encoded with different parameters.")
            for packet in container.demux(piece_stream):
                if packet.pts is not None:
                    yield packet, piece.start_pts * time_base


def _closing_duration(last: av.Packet, info: MediaInfo, decode_span: int) -> int:
    """The last sample's duration: MP4 sample durations are decode-time deltas, and only the
    last sample's is written as given. It makes the decode timeline as long as the
    presentation, as readers that take the track duration from it expect (with B-frames and
    variable frame rate, the last packet's own display duration would leave it short)."""
    video = info.video
    presentation = int((video.end_pts - video.first_pts) * video.time_base / last.time_base)
    closing = presentation - decode_span
    return closing if closing > 0 else (last.duration or 0)


def _timed_video(packet: av.Packet) -> TimedPacket:
    return float(packet.dts * packet.time_base), 0, packet  # type: ignore[operator]


def _frame_durations(info: MediaInfo) -> dict[Fraction, Fraction]:
    """Each source frame's display duration, keyed by its presentation time (seconds)."""
    video = info.video
    following = [*video.frame_pts[1:], video.end_pts]
    return {
        pts * video.time_base: (end - pts) * video.time_base
        for pts, end in zip(video.frame_pts, following, strict=True)
    }


def _shift(packet: av.Packet, offset: Fraction, last_dts: int | None) -> int:
    """Move a piece packet onto the joined timeline; keep decode timestamps increasing.

    Each piece starts its decode timestamps a B-frame delay before its first picture; at a
    join they may touch the previous piece's last ones, so they are nudged up by a tick.
    """
    ticks = offset / packet.time_base
    if ticks.denominator != 1:
        raise EncodeFailed("A segment start does not fall on the piece time base.", detail=str(offset))
    assert packet.pts is not None and packet.dts is not None
    packet.pts += int(ticks)
    dts = packet.dts + int(ticks)
    if last_dts is not None and dts <= last_dts:
        dts = last_dts + 1
    if dts > packet.pts:
        raise EncodeFailed("Segment pieces cannot be joined without re-encoding.", detail=f"dts {dts}")
    packet.dts = dts
    return dts


def _audio_packets(
    out: av.container.OutputContainer,
    source: av.container.InputContainer,
    audio_in: av.AudioStream,
    info: MediaInfo,
    track: AudioTrack,
    order: int,
) -> Iterator[TimedPacket]:
    """Create the output track now (before the header is written) and return its packets."""
    video = info.video
    origin = video.first_pts * video.time_base
    end = video.end_pts * video.time_base
    if can_copy(track, float(origin), float(end)):
        return _copied_audio(out.add_stream_from_template(audio_in), source, audio_in, origin, order)
    rate, layout = output_format(track)
    out_stream = out.add_stream("aac", rate=rate, layout=layout)
    out_stream.bit_rate = AAC_BITRATE_PER_CHANNEL * av.AudioLayout(layout).nb_channels
    fitter = AudioFitter(rate, layout, origin, end - origin)
    return _encoded(out_stream, fitted_audio(source, audio_in, fitter), order)


def _encoded(
    out_stream: av.AudioStream, frames: Iterator[av.AudioFrame], order: int
) -> Iterator[TimedPacket]:
    for frame in frames:
        yield from _timed(out_stream.encode(frame), order)
    yield from _timed(out_stream.encode(None), order)


def _copied_audio(
    out_stream: av.AudioStream,
    container: av.container.InputContainer,
    stream: av.AudioStream,
    origin: Fraction,
    order: int,
) -> Iterator[TimedPacket]:
    shift = int(origin / _time_base(stream))
    for packet in container.demux(stream):
        if packet.dts is None or packet.size == 0:
            continue
        packet.dts -= shift
        if packet.pts is not None:
            packet.pts -= shift
        packet.stream = out_stream
        yield float(packet.dts * packet.time_base), order, packet


def _timed(packets: list[av.Packet], order: int) -> Iterator[TimedPacket]:
    for packet in packets:
        yield float((packet.dts or 0) * packet.time_base), order, packet


def _time_base(stream: av.stream.Stream) -> Fraction:
    if stream.time_base is None:
        raise EncodeFailed("An audio track has no time base.")
    return Fraction(stream.time_base)
