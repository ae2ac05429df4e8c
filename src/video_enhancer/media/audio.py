"""The output's audio: the source's default track, fitted to the video's timeline.

A track is copied as it is when MP4 carries it and every player plays it (``MP4_AUDIO_COPY``)
and when it already starts and ends with the video (within ``ALIGNED_S``). Anything else (PCM of
any layout, MP2, AC-3, AMR, Vorbis, odd layouts, 8/11/22 kHz...) is decoded, resampled to
planar float at 44.1 or 48 kHz in mono, stereo or 5.1, placed on the video's timeline (silence
where the audio starts late, has a gap or ends early; cut where it starts early or runs past the
video) and encoded to AAC. The output is never longer than the video because of its audio.
"""

from __future__ import annotations

from collections.abc import Iterator
from fractions import Fraction

import av
import av.container
import numpy as np

from video_enhancer.media.probe import AudioTrack

MP4_AUDIO_COPY = frozenset({"aac", "mp3", "alac", "flac", "opus"})
AAC_RATES = (44100, 48000)
AAC_BITRATE_PER_CHANNEL = 96_000
AAC_FRAME = 1024
ALIGNED_S = 0.05
"""Start and end offsets a copied track may have from the video's."""
GAP_S = 0.01
"""A jump in the source's audio timestamps larger than this is a gap (filled) or overlap (cut)."""


def can_copy(track: AudioTrack, video_start_s: float, video_end_s: float) -> bool:
    return (
        track.codec in MP4_AUDIO_COPY
        and abs(track.start_s - video_start_s) <= ALIGNED_S
        and abs(track.end_s - video_end_s) <= ALIGNED_S
    )


def output_format(track: AudioTrack) -> tuple[int, str]:
    """Sample rate and layout of the AAC track for ``track``."""
    rate = track.sample_rate if track.sample_rate in AAC_RATES else 48000
    layout = "mono" if track.channels == 1 else "5.1" if track.channels >= 6 else "stereo"
    return rate, layout


class AudioFitter:
    """Decoded audio frames in, AAC-sized planar float frames out, on the video's timeline.

    ``origin_s`` is the source time of the video's first frame (the output's zero) and
    ``duration_s`` the video's duration: exactly that many samples come out.
    """

    def __init__(self, rate: int, layout: str, origin_s: Fraction, duration_s: Fraction) -> None:
        self.rate, self.layout = rate, layout
        self._origin = origin_s
        self._total = round(duration_s * rate)
        self._channels = av.AudioLayout(layout).nb_channels
        self._resampler = av.AudioResampler(format="fltp", layout=layout, rate=rate)
        self._buffer = np.zeros((self._channels, 0), dtype=np.float32)
        self._written = 0  # samples placed on the timeline (emitted or buffered)
        self._emitted = 0
        self._skip = 0  # source samples still to cut (they overlap what is already placed)

    def push(self, frame: av.AudioFrame | None) -> Iterator[av.AudioFrame]:
        """Place ``frame`` (None: the end) and yield the output frames now complete."""
        if frame is not None:
            self._align(frame)
        for out in self._resampler.resample(frame):
            self._append(out.to_ndarray().astype(np.float32, copy=False))
        if frame is None:
            self._append(np.zeros((self._channels, max(0, self._total - self._written)), np.float32))
        yield from self._emit(final=frame is None)

    def _align(self, frame: av.AudioFrame) -> None:
        """Silence for a gap before ``frame``, or a cut of what overlaps (in output samples)."""
        if frame.pts is None or frame.time_base is None:
            return
        target = round((Fraction(frame.pts) * Fraction(frame.time_base) - self._origin) * self.rate)
        # The resampler may hold back a few samples; far fewer than GAP_S.
        pending = self._written
        if target - pending > GAP_S * self.rate:
            self._append(np.zeros((self._channels, target - pending), np.float32))
        elif pending - target > GAP_S * self.rate:
            self._skip = pending - target

    def _append(self, samples: np.ndarray) -> None:
        if self._skip:
            cut = min(self._skip, samples.shape[1])
            samples, self._skip = samples[:, cut:], self._skip - cut
        room = self._total - self._written
        samples = samples[:, : max(0, room)]
        self._buffer = np.concatenate([self._buffer, samples], axis=1)
        self._written += samples.shape[1]

    def _emit(self, final: bool) -> Iterator[av.AudioFrame]:
        while self._buffer.shape[1] >= AAC_FRAME or (final and self._buffer.shape[1] > 0):
            chunk, self._buffer = self._buffer[:, :AAC_FRAME], self._buffer[:, AAC_FRAME:]
            out = av.AudioFrame.from_ndarray(np.ascontiguousarray(chunk), format="fltp", layout=self.layout)
            out.sample_rate = self.rate
            out.pts = self._emitted
            out.time_base = Fraction(1, self.rate)
            self._emitted += chunk.shape[1]
            yield out


def fitted_audio(
    container: av.container.InputContainer,
    stream: av.AudioStream,
    fitter: AudioFitter,
) -> Iterator[av.AudioFrame]:
    """Every frame of the fitted track, then its padding to the video's end."""
    for frame in container.decode(stream):
        assert isinstance(frame, av.AudioFrame)  # decode(stream) yields that stream's frames
        yield from fitter.push(frame)
    yield from fitter.push(None)
