"""A before/after preview of a short span: the real enhancer against a plain bicubic upscale.

`make_preview` reads as its steps:

1. choose the span: ``start_s`` when given, else the window of ``seconds`` whose sampled frames
   have the most detail (mean gradient of the luma), so a black opening is never chosen;
2. cut it into a near-lossless upright clip with timestamps from zero and the source's audio
   tracks for exactly that span (PCM, placed on the span's timeline as a job places the audio on
   the video's: `media.audio.AudioFitter`);
3. ``after``: that clip through `run_pipeline`, the same pipeline, encoder settings and audio
   handling as a job (so it is encoded like the full job, sound included);
4. ``before``: the same frames resized to the output size with a bicubic scaler, encoded with the
   same settings and joined with the same audio by the same `join_pieces`, so both play in sync
   side by side;
5. a side-by-side JPEG (before | after) of the span's middle frame;
6. the fidelity of ``after`` to the span at the source's size (`media.quality`).
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import cast

import av
import av.container
import numpy as np
from av.video.reformatter import ColorRange, Colorspace, Interpolation, VideoReformatter
from numpy.typing import NDArray
from PIL import Image

from video_enhancer.enhancers.base import Enhancer, Frame, Size
from video_enhancer.media.audio import AudioFitter, output_format
from video_enhancer.media.decode import DecodedFrame, iter_frames
from video_enhancer.media.encode import BT709, TV_RANGE, EncoderSettings
from video_enhancer.media.errors import DecodeFailed, MediaError
from video_enhancer.media.join import Piece, join_pieces
from video_enhancer.media.pipeline import PipelineConfig, PipelineResult, run_pipeline
from video_enhancer.media.probe import AudioTrack, MediaInfo, probe, stream_at
from video_enhancer.media.quality import Fidelity, measure_fidelity

DETAIL_SAMPLE_WIDTH = 160
"""Frames are judged for detail at this width: enough to tell texture from a flat picture."""
_CUT_CRF = "4"
_AUDIO_PREROLL_S = Fraction(2)
"""Audio decoding starts this far before the span: a seek lands on a packet at or before it."""
_AUDIO_RUN_ON_S = Fraction(1, 2)
"""Decoding stops once the packets are this far past the span's end."""


class PreviewSpanInvalid(MediaError):
    default_code = "PREVIEW_SPAN_INVALID"
    default_message = "The preview span lies outside the video."


@dataclass(frozen=True, slots=True)
class PreviewFiles:
    before: Path
    after: Path
    compare: Path


@dataclass(frozen=True, slots=True)
class PreviewResult:
    files: PreviewFiles
    start_s: float
    seconds: float
    pipeline: PipelineResult
    fidelity: Fidelity


def preview_files(output: Path) -> PreviewFiles:
    """``OUT.before.mp4``, ``OUT.after.mp4``, ``OUT.compare.jpg`` next to ``output``."""
    stem = output.with_suffix("")
    return PreviewFiles(Path(f"{stem}.before.mp4"), Path(f"{stem}.after.mp4"), Path(f"{stem}.compare.jpg"))


def detail_of(image: Frame) -> float:
    """Mean absolute luma gradient: high for texture and edges, near zero for black or flat frames."""
    luma = image[..., :3].astype(np.float32) @ np.array([0.299, 0.587, 0.114], dtype=np.float32)
    return float(np.abs(np.diff(luma, axis=0)).mean() + np.abs(np.diff(luma, axis=1)).mean())


def _sample_size(info: MediaInfo) -> Size:
    width, height = info.video.width, info.video.height
    if width <= DETAIL_SAMPLE_WIDTH:
        return width, height
    return DETAIL_SAMPLE_WIDTH, max(2, round(height * DETAIL_SAMPLE_WIDTH / width))


def detail_timeline(info: MediaInfo, per_second: float = 4.0) -> list[tuple[float, float]]:
    """(seconds from the start, detail) of frames sampled about ``per_second`` times a second."""
    every = max(1, round(float(info.video.frame_rate or 1) / per_second))
    first = info.video.first_pts
    return [
        (float((frame.pts - first) * frame.time_base), detail_of(frame.image))
        for index, frame in enumerate(iter_frames(info, _sample_size(info)))
        if index % every == 0
    ]


def choose_start(info: MediaInfo, seconds: float) -> float:
    """The start of the ``seconds`` window with the most mean detail (0 for a short clip)."""
    latest = max(0.0, info.duration_s - seconds)
    timeline = detail_timeline(info)
    best, best_score = 0.0, -1.0
    for start, _ in timeline:
        if start > latest + 1e-6:
            break
        window = [d for t, d in timeline if start <= t < start + seconds]
        score = sum(window) / len(window) if window else 0.0
        if score > best_score:
            best, best_score = start, score
    return best


def _span_frames(info: MediaInfo, size: Size, start_s: float, seconds: float) -> Iterator[DecodedFrame]:
    start_pts, end_pts = _span_pts(info, start_s, seconds)
    for frame in iter_frames(info, size, start_pts):
        if frame.pts >= end_pts:
            return
        yield frame


def _span_pts(info: MediaInfo, start_s: float, seconds: float) -> tuple[int, int]:
    """The timeline pts the span asks for: its frames are those from the first up to the second."""
    start_pts = info.video.first_pts + round(start_s / info.video.time_base)
    return start_pts, start_pts + round(seconds / info.video.time_base)


def span_timing(info: MediaInfo, start_s: float, seconds: float) -> tuple[Fraction, Fraction]:
    """(source time of the span's first frame, the span's duration to its last frame's end), s."""
    video = info.video
    start_pts, end_pts = _span_pts(info, start_s, seconds)
    first = bisect.bisect_left(video.frame_pts, start_pts)
    after = bisect.bisect_left(video.frame_pts, end_pts)
    if first >= after:
        raise PreviewSpanInvalid(f"No frame starts in {start_s:.2f}-{start_s + seconds:.2f} s.")
    end = video.frame_pts[after] if after < len(video.frame_pts) else video.end_pts
    origin = video.frame_pts[first]
    return origin * video.time_base, (end - origin) * video.time_base


def _video_stream(
    container: av.container.OutputContainer,
    size: Size,
    time_base: Fraction,
    rate: Fraction,
    options: dict[str, str],
    codec: str,
) -> av.VideoStream:
    stream = cast(av.VideoStream, container.add_stream(codec, rate=rate, options=options))
    stream.width, stream.height, stream.pix_fmt = size[0], size[1], "yuv420p"
    # The encoder counts in the timeline's time base, not in frame intervals: a variable frame
    # rate keeps its timestamps (at 1/rate, close frames of a phone clip would collide).
    stream.time_base = stream.codec_context.time_base = time_base
    context = stream.codec_context
    context.color_primaries = context.color_trc = context.colorspace = BT709
    context.color_range = TV_RANGE  # tagged like the job's output (`media.encode`)
    return stream


def _encode_video(
    container: av.container.OutputContainer,
    stream: av.VideoStream,
    frames: Iterable[tuple[av.VideoFrame, int]],
    time_base: Fraction,
) -> int:
    count = 0
    for frame, pts in frames:
        frame.pts, frame.time_base = pts, time_base
        container.mux(stream.encode(frame))
        count += 1
    container.mux(stream.encode(None))
    return count


def _to_yuv(
    reformatter: VideoReformatter, image: Frame, size: Size, interpolation: Interpolation
) -> av.VideoFrame:
    return reformatter.reformat(
        av.VideoFrame.from_ndarray(np.ascontiguousarray(image), format="rgb24"),
        width=size[0],
        height=size[1],
        format="yuv420p",
        dst_colorspace=Colorspace.ITU709,
        src_color_range=ColorRange.JPEG,
        dst_color_range=ColorRange.MPEG,
        interpolation=interpolation,
    )


def _span_audio(
    info: MediaInfo, track: AudioTrack, origin: Fraction, duration: Fraction, layout: str, rate: int
) -> Iterator[av.AudioFrame]:
    """The track from ``origin`` for ``duration`` seconds as 16-bit frames starting at zero:
    silence where it has none, cut where it runs on (the fitter places it by timestamps)."""
    fitter = AudioFitter(rate, layout, origin, duration)
    to_pcm = av.AudioResampler(format="s16", layout=layout, rate=rate)
    with av.open(str(info.path)) as container:
        stream = cast(av.AudioStream, stream_at(container, track.index))
        _seek_before(container, stream, origin)
        for frame in container.decode(stream):
            assert isinstance(frame, av.AudioFrame)  # decode(stream) yields that stream's frames
            for fitted in fitter.push(frame):
                yield from to_pcm.resample(fitted)
            if frame.pts is not None and frame.time_base is not None:
                if frame.pts * frame.time_base > origin + duration + _AUDIO_RUN_ON_S:
                    break
        for fitted in fitter.push(None):
            yield from to_pcm.resample(fitted)
    yield from to_pcm.resample(None)


def _seek_before(container: av.container.InputContainer, stream: av.AudioStream, origin: Fraction) -> None:
    """Start decoding a little before ``origin`` (from the start when the file cannot seek)."""
    target = origin - _AUDIO_PREROLL_S
    if target <= 0 or stream.time_base is None:
        return
    try:
        container.seek(int(target / Fraction(stream.time_base)), stream=stream, backward=True)
    except av.FFmpegError:
        container.seek(0, stream=stream, backward=True)


def _add_span_audio(
    container: av.container.OutputContainer, info: MediaInfo, origin: Fraction, duration: Fraction
) -> list[tuple[av.AudioStream, Iterator[av.AudioFrame]]]:
    tracks = []
    for track in info.audio:
        rate, layout = output_format(track)
        stream = cast(av.AudioStream, container.add_stream("pcm_s16le", rate=rate, layout=layout))
        tracks.append((stream, _span_audio(info, track, origin, duration, layout, rate)))
    return tracks


def cut_span(info: MediaInfo, start_s: float, seconds: float, path: Path) -> MediaInfo:
    """The span as an upright, near-lossless clip with timestamps from zero and its audio."""
    origin, duration = span_timing(info, start_s, seconds)
    size = (info.video.width, info.video.height)
    reformatter = VideoReformatter()
    origin_pts = round(origin / info.video.time_base)
    frames = (
        (_to_yuv(reformatter, frame.image, size, Interpolation.BILINEAR), frame.pts - origin_pts)
        for frame in _span_frames(info, size, start_s, seconds)
    )
    rate = info.video.frame_rate or Fraction(25)
    options = {"preset": "ultrafast", "crf": _CUT_CRF}
    try:
        with av.open(str(path), "w", format="mp4") as container:
            stream = _video_stream(container, size, info.video.time_base, rate, options, "libx264")
            audio = _add_span_audio(container, info, origin, duration)
            _encode_video(container, stream, frames, info.video.time_base)
            for audio_stream, samples in audio:  # a scratch file: the muxer need not interleave
                for frame in samples:
                    container.mux(audio_stream.encode(frame))
                container.mux(audio_stream.encode(None))
    except (av.FFmpegError, ValueError) as exc:
        raise DecodeFailed("The preview span could not be cut.", detail=str(exc)) from exc
    return probe(path)


def bicubic_copy(span: MediaInfo, size: Size, encoder: EncoderSettings, path: Path, scratch: Path) -> None:
    """``before``: the span's frames resized to ``size`` with a bicubic scaler, joined with the
    span's audio exactly as ``after`` is (same timestamps, same frame durations, same sound)."""
    reformatter = VideoReformatter()
    frames = (
        (_to_yuv(reformatter, f.image, size, Interpolation.BICUBIC), f.pts - span.video.first_pts)
        for f in iter_frames(span, (span.video.width, span.video.height))
    )
    options = {k: v for k, v in encoder.codec_options().items() if k != "forced-idr"}
    piece = scratch / f".{path.stem}.piece.mp4"
    rate = span.video.frame_rate or Fraction(25)
    try:
        with av.open(str(piece), "w", format="mp4") as container:
            stream = _video_stream(container, size, span.video.time_base, rate, options, encoder.codec)
            _encode_video(container, stream, frames, span.video.time_base)
        join_pieces(span, [Piece(piece, span.video.first_pts)], path)
    finally:
        piece.unlink(missing_ok=True)


def _middle_frame(info: MediaInfo, size: Size) -> NDArray[np.uint8]:
    frames = list(iter_frames(info, size))
    return frames[len(frames) // 2].image


def side_by_side(before: MediaInfo, after: MediaInfo, path: Path) -> None:
    size = (after.video.width, after.video.height)
    joined = np.concatenate([_middle_frame(before, size), _middle_frame(after, size)], axis=1)
    Image.fromarray(joined).save(path, format="JPEG", quality=90)


def make_preview(
    source: MediaInfo,
    output: Path,
    enhancer: Enhancer,
    config: PipelineConfig,
    *,
    seconds: float,
    start_s: float | None = None,
    work_dir: Path | None = None,
) -> PreviewResult:
    """Write the preview's three files next to ``output`` (see the module docstring)."""
    if start_s is not None and not 0 <= start_s < source.duration_s:
        raise PreviewSpanInvalid(f"startSeconds must lie in [0, {source.duration_s:.2f}).")
    start = choose_start(source, seconds) if start_s is None else start_s
    files = preview_files(output)
    scratch = work_dir or output.parent
    cut = scratch / f".{output.stem}.span.mp4"
    try:
        span = cut_span(source, start, seconds, cut)
        pipeline = run_pipeline(span, files.after, enhancer, config, work_dir=scratch)
        bicubic_copy(span, pipeline.sizes.output, config.encoder, files.before, scratch)
        after = probe(files.after)
        side_by_side(probe(files.before), after, files.compare)
        fidelity = measure_fidelity(span, after)
    finally:
        cut.unlink(missing_ok=True)
    return PreviewResult(files, start, span.duration_s, pipeline, fidelity)


__all__ = [
    "PreviewFiles",
    "PreviewResult",
    "PreviewSpanInvalid",
    "choose_start",
    "make_preview",
    "preview_files",
]
