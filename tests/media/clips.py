"""Tiny test clips generated with the FFmpeg binary shipped in the ``imageio-ffmpeg`` wheel.

Reusable by any test: ``from media.clips import make_clip, ClipSpec`` (``tests/`` is on
``sys.path`` through its root conftest, like ``helpers``). The ``clips`` fixture in
``tests/fixtures_media.py`` caches each clip per session. Every function writes into the directory it is
given and returns a ``Clip`` describing what the file really contains: the expected outcome
that probes and pipeline outputs are compared with.

Clips are tiny (64x36 to 160x90, a few seconds, low frame rates) so the whole suite stays fast.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass, field, replace
from pathlib import Path

import imageio_ffmpeg

FFMPEG = imageio_ffmpeg.get_ffmpeg_exe()


class FFmpegFailed(RuntimeError):
    pass


def run_ffmpeg(args: list[str]) -> None:
    """Run the bundled ffmpeg with ``args`` (argv list); stderr travels with the error."""
    command = [FFMPEG, "-hide_banner", "-nostdin", "-y", "-loglevel", "error", *args]
    completed = subprocess.run(command, capture_output=True, text=True, check=False)
    if completed.returncode != 0:
        raise FFmpegFailed(f"{' '.join(command)}\n{completed.stderr}")


@dataclass(frozen=True)
class ClipSpec:
    """What to generate. Sizes are of the coded picture; ``rotation`` is counter-clockwise degrees."""

    name: str = "clip"
    width: int = 96
    height: int = 64
    fps: int = 10
    seconds: float = 2.0
    audio_channels: int | None = None
    audio_codec: str = "aac"
    container: str = "mp4"
    pix_fmt: str = "yuv420p"
    rotation: int = 0
    hdr: str | None = None
    """"pq" or "hlg": 10-bit BT.2020 with that transfer."""
    grey: int | None = None
    """A flat grey picture of this 8-bit level instead of the moving test pattern."""
    variable_rate: bool = False
    """First half at ``fps``, second half at half of it."""
    b_frames: bool = False
    """Encode with B-frames (decode order differs from display order), as many cameras do."""
    creation_time: str | None = None
    marker: bool = False
    """A red box in the top-left corner of the coded picture (to check rotation)."""
    black_seconds: float = 0.0
    """The first seconds are a black picture (as many phone clips start)."""


@dataclass(frozen=True)
class Clip:
    path: Path
    spec: ClipSpec
    frames: int
    duration_s: float

    @property
    def upright_size(self) -> tuple[int, int]:
        if self.spec.rotation in (90, 270):
            return self.spec.height, self.spec.width
        return self.spec.width, self.spec.height


def _video_source(spec: ClipSpec) -> str:
    size = f"{spec.width}x{spec.height}"
    if spec.grey is not None:
        return f"color=c=0x{spec.grey:02x}{spec.grey:02x}{spec.grey:02x}:s={size}:r={spec.fps}"
    if spec.marker:
        return (
            f"color=c=blue:s={size}:r={spec.fps},"
            f"drawbox=x=0:y=0:w={spec.width // 4}:h={spec.height // 4}:color=red:t=fill"
        )
    # testsrc2 rounds odd sizes down to even; the RGB testsrc keeps them.
    pattern = "testsrc" if spec.width % 2 or spec.height % 2 else "testsrc2"
    return f"{pattern}=s={size}:r={spec.fps}"


def _video_filters(spec: ClipSpec) -> list[str]:
    filters = []
    if spec.black_seconds:
        filters.append(f"drawbox=c=black:t=fill:enable='lt(t,{spec.black_seconds})'")
    if spec.variable_rate:
        half = int(spec.fps * spec.seconds / 2)
        filters.append(
            f"setpts='if(lt(N,{half}),N/({spec.fps}*TB),({half}/{spec.fps}+(N-{half})*2/{spec.fps})/TB)'"
        )
    if spec.hdr is not None:
        transfer = "smpte2084" if spec.hdr == "pq" else "arib-std-b67"
        filters.append(f"setparams=color_trc={transfer}:color_primaries=bt2020:colorspace=bt2020nc:range=tv")
        filters.append("format=yuv420p10le")
    else:
        filters.append(f"format={spec.pix_fmt}")
    return filters


def _audio_args(spec: ClipSpec) -> tuple[list[str], list[str]]:
    if spec.audio_channels is None:
        return [], []
    layout = {1: "mono", 2: "stereo", 6: "5.1"}[spec.audio_channels]
    source = ["-f", "lavfi", "-i", f"sine=f=440:r=48000,aformat=channel_layouts={layout}"]
    return source, ["-map", "1:a", "-c:a", spec.audio_codec]


def make_clip(directory: Path, spec: ClipSpec) -> Clip:
    """Generate ``spec`` under ``directory`` and describe it."""
    path = directory / f"{spec.name}.{spec.container}"
    frames = int(spec.fps * spec.seconds)
    audio_in, audio_out = _audio_args(spec)
    args = [
        "-f",
        "lavfi",
        "-i",
        _video_source(spec),
        *audio_in,
        "-map",
        "0:v",
        "-vf",
        ",".join(_video_filters(spec)),
        "-frames:v",
        str(frames),
        *audio_out,
        "-c:v",
        "libx264",
        "-preset",
        "medium" if spec.b_frames else "ultrafast",
        "-g",
        "8",
    ]
    if spec.variable_rate:
        args += ["-fps_mode", "passthrough"]
    if spec.audio_channels is not None:
        args += ["-t", str(_duration(spec))]
    if spec.creation_time:
        args += ["-metadata", f"creation_time={spec.creation_time}"]
    target = path if spec.rotation == 0 else path.with_name(f"{spec.name}-unrotated.{spec.container}")
    run_ffmpeg([*args, str(target)])
    if spec.rotation:
        run_ffmpeg(["-display_rotation", str(spec.rotation), "-i", str(target), "-c", "copy", str(path)])
    return Clip(path, spec, frames, _duration(spec))


def _duration(spec: ClipSpec) -> float:
    if not spec.variable_rate:
        return spec.seconds
    frames = int(spec.fps * spec.seconds)
    half = frames // 2
    return half / spec.fps + (frames - half) * 2 / spec.fps


def truncated_copy(clip: Clip, directory: Path, keep: float = 0.5) -> Path:
    """The first ``keep`` fraction of the clip's bytes."""
    data = clip.path.read_bytes()
    path = directory / f"{clip.spec.name}-truncated{clip.path.suffix}"
    path.write_bytes(data[: int(len(data) * keep)])
    return path


def faststart_copy(clip: Clip, directory: Path) -> Path:
    """The clip with its MP4 index moved to the front (as phones and web uploads often have it)."""
    path = directory / f"{clip.spec.name}-faststart.mp4"
    run_ffmpeg(["-i", str(clip.path), "-c", "copy", "-movflags", "+faststart", str(path)])
    return path


def text_file(directory: Path) -> Path:
    path = directory / "notes.mp4"
    path.write_text("This is a text file with a video extension.\n")
    return path


def empty_file(directory: Path) -> Path:
    path = directory / "empty.mp4"
    path.write_bytes(b"")
    return path


def unknown_codec_file(directory: Path) -> Path:
    """An AVI whose video track names a FourCC no decoder knows (as a camera's private codec would)."""
    source = directory / "mpeg4.avi"
    run_ffmpeg(
        [
            "-f",
            "lavfi",
            "-i",
            "testsrc2=s=64x48:r=10",
            "-t",
            "1",
            "-c:v",
            "mpeg4",
            "-vtag",
            "FMP4",
            str(source),
        ]
    )
    data = source.read_bytes()
    assert data.count(b"FMP4") == 2  # the stream header's handler and the bitmap header's compression
    path = directory / "unknown-codec.avi"
    path.write_bytes(data.replace(b"FMP4", b"ZQ9X"))
    return path


def audio_only_file(directory: Path) -> Path:
    path = directory / "audio-only.m4a"
    run_ffmpeg(["-f", "lavfi", "-i", "sine=f=440:r=48000", "-t", "1", "-c:a", "aac", str(path)])
    return path


@dataclass
class ClipLibrary:
    """Generates each clip once per test session (see the ``clips`` fixture in conftest.py)."""

    directory: Path
    _made: dict[ClipSpec, Clip] = field(default_factory=dict)

    def get(self, spec: ClipSpec) -> Clip:
        if spec not in self._made:
            self._made[spec] = make_clip(self.directory, spec)
        return self._made[spec]


# The catalogue used by the media tests, each with the outcome they expect.
CFR = ClipSpec(name="cfr", audio_channels=2)
VFR = ClipSpec(name="vfr", fps=12, seconds=2.0, variable_rate=True)
VFR_B_FRAMES = ClipSpec(name="vfr-b-frames", fps=12, seconds=2.0, variable_rate=True, b_frames=True)
ROTATED = ClipSpec(name="rotated", width=96, height=64, rotation=90, marker=True, seconds=1.0)
NO_AUDIO = ClipSpec(name="no-audio", seconds=1.0)
SURROUND = ClipSpec(name="surround", audio_channels=6, seconds=1.0, creation_time="2021-03-04T05:06:07Z")
PCM_MOV = ClipSpec(name="pcm", container="mov", audio_channels=2, audio_codec="pcm_s16le", seconds=1.0)
ODD = ClipSpec(name="odd", width=95, height=63, pix_fmt="yuv444p", seconds=1.0)
HDR_PQ = ClipSpec(name="hdr-pq", width=64, height=36, hdr="pq", grey=0x80, seconds=1.0)
HDR_HLG = ClipSpec(name="hdr-hlg", width=64, height=36, hdr="hlg", grey=0xB4, seconds=1.0)
LONG = ClipSpec(name="long", width=64, height=36, fps=8, seconds=6.0, audio_channels=2)
BLACK_START = ClipSpec(name="black-start", width=96, height=64, fps=10, seconds=5.0, black_seconds=1.0)
PHONE_PORTRAIT = ClipSpec(name="phone-portrait", width=96, height=64, fps=10, seconds=4.0, rotation=90)


def with_name(spec: ClipSpec, name: str) -> ClipSpec:
    return replace(spec, name=name)
