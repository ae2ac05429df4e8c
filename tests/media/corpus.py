"""The quirks corpus: one small clip per kind of video people really have, with its expected outcome.

Each ``CorpusClip`` is generated at test time with the FFmpeg binary of ``imageio-ffmpeg``
(``make(directory)``), shaped like what old camcorders, capture tools, phones and screen
recorders write. ``expect`` says what the service must do with it: either an output with a
display aspect ratio, a frame rate and audio presence, or a refusal with a stable error code.

``benchmarks/media_corpus.py`` runs the whole corpus through the pipeline and prints a table;
``tests/media/test_media_corpus.py`` asserts every expected outcome.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

from media.clips import run_ffmpeg

SINE = "sine=f=440:r=48000"


@dataclass(frozen=True)
class Expect:
    error: str | None = None
    """The error code of a refusal; None when the clip must come out enhanced."""
    aspect: Fraction | None = None
    """Display aspect ratio of the source (width / height on screen)."""
    fps: Fraction | None = None
    """Frame rate of the output (a field rate for interlaced sources)."""
    audio: bool = False
    duration_s: float = 1.0
    """Expected output duration (the video's)."""


@dataclass(frozen=True)
class CorpusClip:
    name: str
    suffix: str
    steps: Callable[[Path], list[list[str]]]
    """ffmpeg argument lists for the output path (run in order)."""
    expect: Expect
    patch: Callable[[Path], None] | None = None
    """A byte-level change after generation (what FFmpeg will not write on request)."""
    notes: str = ""
    tags: tuple[str, ...] = field(default_factory=tuple)

    def make(self, directory: Path) -> Path:
        path = directory / f"{self.name}{self.suffix}"
        for args in self.steps(path):
            run_ffmpeg(args)
        if self.patch is not None:
            self.patch(path)
        return path


def _pattern(size: str, rate: str, seconds: float) -> list[str]:
    return ["-t", str(seconds), "-f", "lavfi", "-i", f"testsrc2=s={size}:r={rate}"]


def _sine(seconds: float, spec: str = SINE) -> list[str]:
    return ["-t", str(seconds), "-f", "lavfi", "-i", spec]


def _interlaced(size: str, field_rate: str, seconds: float) -> list[str]:
    """Real interlaced content: a moving pattern at field rate woven into frames, top field first."""
    return [
        "-t",
        str(seconds),
        "-f",
        "lavfi",
        "-i",
        f"testsrc2=s={size}:r={field_rate},tinterlace=mode=interleave_top,setfield=tff",
    ]


def _simple(
    suffix: str, video: list[str], audio: list[str] | None, codecs: list[str]
) -> Callable[[Path], list[list[str]]]:
    def steps(path: Path) -> list[list[str]]:
        inputs = video + (audio or [])
        maps = ["-map", "0:v"] + (["-map", "1:a"] if audio else [])
        return [[*inputs, *maps, *codecs, str(path)]]

    return steps


def _elst_shorten(path: Path) -> None:
    """Shorten the video track's edit list by one frame (100 ms at 10 fps, movie time scale 1000):
    the last sample is then outside the edit list and the demuxer marks it discard."""
    data = bytearray(path.read_bytes())
    at = data.find(b"elst")
    assert at > 0, "no edit list written"
    version = data[at + 4]
    entry = at + 12
    if version == 1:
        (duration,) = struct.unpack(">Q", data[entry : entry + 8])
        data[entry : entry + 8] = struct.pack(">Q", duration - 100)
    else:
        (duration,) = struct.unpack(">I", data[entry : entry + 4])
        data[entry : entry + 4] = struct.pack(">I", duration - 100)
    path.write_bytes(bytes(data))


def _edit_list_discard(path: Path) -> list[list[str]]:
    return [
        [
            *_pattern("96x64", "10", 2),
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            "-g",
            "8",
            "-use_editlist",
            "1",
            str(path),
        ]
    ]


def _leading_edit(path: Path) -> list[list[str]]:
    video = path.with_name("leading-video.mp4")
    return [
        [*_pattern("96x64", "10", 2), "-c:v", "libx264", "-preset", "ultrafast", str(video)],
        [
            "-itsoffset",
            "0.5",
            "-i",
            str(video),
            *_sine(2.5),
            "-map",
            "0:v",
            "-map",
            "1:a",
            "-c:v",
            "copy",
            "-c:a",
            "aac",
            str(path),
        ],
    ]


def _trimmed_by_edit_list(path: Path) -> list[list[str]]:
    # One key frame only: a copy cut at 1.5 s keeps every packet and hides the first 15 behind
    # the edit list, as a phone's gallery "trim" does.
    untrimmed = path.with_name("untrimmed.mp4")
    return [
        [*_pattern("96x64", "10", 3), *X264, "-g", "30", str(untrimmed)],
        ["-ss", "1.5", "-i", str(untrimmed), "-c", "copy", str(path)],
    ]


def _cover_art(path: Path) -> list[list[str]]:
    cover = path.with_name("cover.png")
    return [
        ["-f", "lavfi", "-i", "color=c=red:s=64x64", "-frames:v", "1", str(cover)],
        [
            *_pattern("96x64", "10", 1),
            "-i",
            str(cover),
            *_sine(1),
            "-map",
            "0:v",
            "-map",
            "1:v",
            "-map",
            "2:a",
            "-c:v:0",
            "libx264",
            "-preset",
            "ultrafast",
            "-c:v:1",
            "png",
            "-disposition:v:1",
            "attached_pic",
            "-c:a",
            "aac",
            str(path),
        ],
    ]


def _two_audio_tracks(path: Path) -> list[list[str]]:
    return [
        [
            *_pattern("96x64", "10", 1),
            *_sine(1, "sine=f=440:r=48000"),
            *_sine(1, "sine=f=880:r=44100,aformat=channel_layouts=mono"),
            "-map",
            "0:v",
            "-map",
            "1:a",
            "-map",
            "2:a",
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            "-c:a:0",
            "libvorbis",
            "-c:a:1",
            "ac3",
            "-disposition:a:0",
            "0",
            "-disposition:a:1",
            "default",
            str(path),
        ]
    ]


def _vfr_pauses(path: Path) -> list[list[str]]:
    # 30 frames at 10 fps with two long pauses (a screen recording of someone reading); the
    # pattern's time base is 1/10 s, so whole numbers keep the timestamps exact.
    expression = "if(lt(N,10),N,if(lt(N,20),N+15,N+30))"
    return [
        [
            *_pattern("160x90", "10", 3),
            "-vf",
            f"setpts='{expression}'",
            "-fps_mode",
            "passthrough",
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            str(path),
        ]
    ]


def _still_image(path: Path) -> list[list[str]]:
    png = path.with_name("still.png")
    return [
        ["-f", "lavfi", "-i", "testsrc2=s=96x64", "-frames:v", "1", str(png)],
        ["-i", str(png), "-c", "copy", "-f", "image2", str(path)],
    ]


def _audio_only(path: Path) -> list[list[str]]:
    return [[*_sine(1), "-c:a", "aac", str(path)]]


X264 = ["-c:v", "libx264", "-preset", "ultrafast"]
DV_NTSC = ["-c:v", "dvvideo", "-pix_fmt", "yuv411p", "-s", "720x480", "-r", "30000/1001", "-aspect", "4:3"]
DV_PAL = ["-c:v", "dvvideo", "-pix_fmt", "yuv420p", "-s", "720x576", "-r", "25", "-aspect", "4:3"]
PCM_48K = ["-c:a", "pcm_s16le", "-ar", "48000", "-ac", "2"]
FOUR_THIRDS = Fraction(4, 3)

CORPUS: tuple[CorpusClip, ...] = (
    CorpusClip(
        "edit-list-discard",
        ".mp4",
        _edit_list_discard,
        Expect(duration_s=1.9, aspect=Fraction(3, 2), fps=Fraction(10)),
        patch=_elst_shorten,
        notes="last sample outside the edit list (discard flag), as phones write",
    ),
    CorpusClip(
        "trimmed-by-edit-list",
        ".mp4",
        _trimmed_by_edit_list,
        Expect(duration_s=1.5, aspect=Fraction(3, 2), fps=Fraction(10)),
        notes="half the frames hidden by the edit list (a trim without re-encoding)",
    ),
    CorpusClip(
        "avi-mpeg4",
        ".avi",
        _simple(".avi", _pattern("96x64", "10", 2), None, ["-c:v", "mpeg4", "-q:v", "5"]),
        Expect(duration_s=2.0, aspect=Fraction(3, 2), fps=Fraction(10)),
        notes="AVI written by FFmpeg (header frame count off by one)",
    ),
    CorpusClip(
        "dv-ntsc-avi-pcm",
        ".avi",
        _simple(".avi", _interlaced("720x480", "60000/1001", 0.5), _sine(0.5), [*DV_NTSC, *PCM_48K]),
        Expect(duration_s=0.5, aspect=FOUR_THIRDS, fps=Fraction(60000, 1001), audio=True),
        notes="DV NTSC in AVI, PCM audio, 4:3 with 10:11 pixels, bottom field first",
    ),
    CorpusClip(
        "dv-pal-raw",
        ".dv",
        _simple(
            ".dv",
            _interlaced("720x576", "50", 0.6),
            _sine(0.6),
            [*DV_PAL, "-c:a", "pcm_s16le", "-ar", "48000", "-ac", "2", "-f", "dv"],
        ),
        Expect(duration_s=0.6, aspect=FOUR_THIRDS, fps=Fraction(50), audio=True),
        notes="raw DV stream (tape capture), PAL 4:3 with 12:11 pixels, interlaced",
    ),
    CorpusClip(
        "mpeg2-ps-tff-mp2",
        ".mpg",
        _simple(
            ".mpg",
            _interlaced("720x480", "60000/1001", 0.6),
            _sine(0.6),
            [
                "-c:v",
                "mpeg2video",
                "-flags",
                "+ilme+ildct",
                "-alternate_scan",
                "1",
                "-aspect",
                "4:3",
                "-b:v",
                "4M",
                "-c:a",
                "mp2",
            ],
        ),
        Expect(duration_s=0.6, aspect=FOUR_THIRDS, fps=Fraction(60000, 1001), audio=True),
        notes="DVD-style MPEG-2 program stream, top field first, 4:3 anamorphic, MP2 audio",
    ),
    CorpusClip(
        "hdv-anamorphic",
        ".mp4",
        _simple(".mp4", _pattern("360x270", "25", 1), None, [*X264, "-vf", "setsar=4/3"]),
        Expect(aspect=Fraction(16, 9), fps=Fraction(25)),
        notes="HDV-like 4:3 pixels (1440x1080 shows 16:9), scaled down",
    ),
    CorpusClip(
        "h264-1080i",
        ".mp4",
        _simple(
            ".mp4",
            _interlaced("1920x1080", "50", 0.4),
            _sine(0.4),
            [*X264, "-flags", "+ilme+ildct", "-x264-params", "tff=1", "-c:a", "aac"],
        ),
        Expect(duration_s=0.4, aspect=Fraction(16, 9), fps=Fraction(50), audio=True),
        notes="AVCHD-like 1080i (25 frames, 50 fields), top field first",
    ),
    CorpusClip(
        "divx-avi-bframes",
        ".avi",
        _simple(
            ".avi",
            _pattern("96x64", "25", 1),
            _sine(1),
            ["-c:v", "mpeg4", "-vtag", "DX50", "-bf", "2", "-c:a", "libmp3lame"],
        ),
        Expect(aspect=Fraction(3, 2), fps=Fraction(25), audio=True),
        notes="DivX (MPEG-4 Part 2) with B-frames in AVI, MP3 audio",
    ),
    CorpusClip(
        "xvid-mkv-bframes",
        ".mkv",
        _simple(
            ".mkv",
            _pattern("96x64", "25", 1),
            _sine(1),
            ["-c:v", "mpeg4", "-vtag", "XVID", "-bf", "2", "-c:a", "ac3"],
        ),
        Expect(aspect=Fraction(3, 2), fps=Fraction(25), audio=True),
        notes="Xvid with B-frames in Matroska, AC-3 audio",
    ),
    CorpusClip(
        "vp9-avi",
        ".avi",
        _simple(
            ".avi",
            _pattern("96x64", "10", 1),
            None,
            ["-c:v", "libvpx-vp9", "-deadline", "realtime", "-cpu-used", "8"],
        ),
        Expect(aspect=Fraction(3, 2), fps=Fraction(10)),
        notes="VP9 in AVI",
    ),
    CorpusClip(
        "h263-3gp",
        ".3gp",
        _simple(
            ".3gp",
            _pattern("176x144", "15", 1),
            _sine(1, "sine=f=440:r=8000,aformat=channel_layouts=mono"),
            ["-c:v", "h263", "-vf", "setsar=12/11", "-c:a", "libopencore_amrnb", "-ar", "8000", "-ac", "1"],
        ),
        Expect(aspect=Fraction(176 * 12, 144 * 11), fps=Fraction(15), audio=True),
        notes="early phone: H.263 in 3GP, SAR 12:11, AMR-NB 8 kHz",
    ),
    CorpusClip(
        "mov-pcm",
        ".mov",
        _simple(".mov", _pattern("96x64", "10", 1), _sine(1), [*X264, "-c:a", "pcm_s24le"]),
        Expect(aspect=Fraction(3, 2), fps=Fraction(10), audio=True),
        notes="MOV with 24-bit PCM",
    ),
    CorpusClip(
        "mkv-vp9-opus",
        ".mkv",
        _simple(
            ".mkv",
            _pattern("96x64", "10", 1),
            _sine(1),
            ["-c:v", "libvpx-vp9", "-deadline", "realtime", "-cpu-used", "8", "-c:a", "libopus"],
        ),
        Expect(aspect=Fraction(3, 2), fps=Fraction(10), audio=True),
    ),
    CorpusClip(
        "webm-vp9-opus",
        ".webm",
        _simple(
            ".webm",
            _pattern("96x64", "10", 1),
            _sine(1),
            ["-c:v", "libvpx-vp9", "-deadline", "realtime", "-cpu-used", "8", "-c:a", "libopus"],
        ),
        Expect(aspect=Fraction(3, 2), fps=Fraction(10), audio=True),
    ),
    CorpusClip(
        "av1-mp4",
        ".mp4",
        _simple(
            ".mp4",
            _pattern("96x64", "10", 1),
            None,
            ["-c:v", "libsvtav1", "-preset", "12", "-pix_fmt", "yuv420p"],
        ),
        Expect(aspect=Fraction(3, 2), fps=Fraction(10)),
    ),
    CorpusClip(
        "hevc-10bit-hlg",
        ".mov",
        _simple(
            ".mov",
            _pattern("96x64", "30", 1),
            _sine(1),
            [
                "-vf",
                "setparams=color_trc=arib-std-b67:color_primaries=bt2020:colorspace=bt2020nc,format=yuv420p10le",
                "-c:v",
                "libx265",
                "-preset",
                "ultrafast",
                "-x265-params",
                "log-level=error",
                "-tag:v",
                "hvc1",
                "-c:a",
                "aac",
            ],
        ),
        Expect(aspect=Fraction(3, 2), fps=Fraction(30), audio=True),
        notes="iPhone-like HEVC 10-bit HLG in MOV",
    ),
    CorpusClip(
        "leading-edit-list",
        ".mp4",
        _leading_edit,
        Expect(duration_s=2.0, aspect=Fraction(3, 2), fps=Fraction(10), audio=True),
        notes="video starts 0.5 s after the audio (an empty edit)",
    ),
    CorpusClip(
        "mpegts-start-time",
        ".ts",
        _simple(".ts", _pattern("96x64", "25", 1), _sine(1), [*X264, "-c:a", "aac"]),
        Expect(aspect=Fraction(3, 2), fps=Fraction(25), audio=True),
        notes="MPEG-TS, non-zero start time (1.4 s)",
    ),
    CorpusClip(
        "negative-cts",
        ".mp4",
        _simple(
            ".mp4",
            _pattern("96x64", "10", 2),
            _sine(2),
            [
                "-c:v",
                "libx264",
                "-preset",
                "medium",
                "-bf",
                "3",
                "-movflags",
                "negative_cts_offsets",
                "-c:a",
                "aac",
            ],
        ),
        Expect(duration_s=2.0, aspect=Fraction(3, 2), fps=Fraction(10), audio=True),
        notes="B-frames with negative composition offsets",
    ),
    CorpusClip(
        "vfr-screen-pauses",
        ".mp4",
        _vfr_pauses,
        Expect(duration_s=6.0, aspect=Fraction(16, 9)),
        notes="variable frame rate screen recording with 1.5 s pauses",
    ),
    CorpusClip(
        "cover-art",
        ".mp4",
        _cover_art,
        Expect(aspect=Fraction(3, 2), fps=Fraction(10), audio=True),
        notes="cover art as a second (attached picture) video stream",
    ),
    CorpusClip(
        "timecode-track",
        ".mov",
        _simple(
            ".mov", _pattern("96x64", "25", 1), _sine(1), [*X264, "-timecode", "01:00:00:00", "-c:a", "aac"]
        ),
        Expect(aspect=Fraction(3, 2), fps=Fraction(25), audio=True),
        notes="QuickTime timecode (tmcd) track",
    ),
    CorpusClip(
        "no-audio",
        ".mp4",
        _simple(".mp4", _pattern("96x64", "10", 1), None, X264),
        Expect(aspect=Fraction(3, 2), fps=Fraction(10)),
    ),
    CorpusClip(
        "two-audio-tracks",
        ".mkv",
        _two_audio_tracks,
        Expect(aspect=Fraction(3, 2), fps=Fraction(10), audio=True),
        notes="two audio tracks, the second one default (Vorbis + AC-3 mono 44.1 kHz)",
    ),
    CorpusClip(
        "audio-5.0-22khz",
        ".mkv",
        _simple(
            ".mkv",
            _pattern("96x64", "10", 1),
            _sine(1, "sine=f=440:r=22050,aformat=channel_layouts=5.0(side)"),
            [*X264, "-c:a", "pcm_s16le"],
        ),
        Expect(aspect=Fraction(3, 2), fps=Fraction(10), audio=True),
        notes="PCM 5.0(side) at 22.05 kHz",
    ),
    CorpusClip(
        "audio-11khz-u8",
        ".avi",
        _simple(
            ".avi",
            _pattern("96x64", "10", 1),
            _sine(1, "sine=f=440:r=11025,aformat=channel_layouts=mono"),
            ["-c:v", "mjpeg", "-c:a", "pcm_u8"],
        ),
        Expect(aspect=Fraction(3, 2), fps=Fraction(10), audio=True),
        notes="old camera AVI: MJPEG with 8-bit 11 kHz PCM",
    ),
    CorpusClip(
        "audio-longer",
        ".mp4",
        _simple(".mp4", _pattern("96x64", "10", 1), _sine(1.5), [*X264, "-c:a", "aac"]),
        Expect(aspect=Fraction(3, 2), fps=Fraction(10), audio=True),
        notes="audio runs 0.5 s past the video (trimmed)",
    ),
    CorpusClip(
        "audio-shorter",
        ".mkv",
        _simple(".mkv", _pattern("96x64", "10", 1), _sine(0.5), [*X264, "-c:a", "pcm_s16le"]),
        Expect(aspect=Fraction(3, 2), fps=Fraction(10), audio=True),
        notes="audio stops half-way (padded with silence)",
    ),
    CorpusClip(
        "raw-h264-stream",
        ".h264",
        _simple(
            ".h264",
            _pattern("96x64", "25", 1),
            None,
            ["-c:v", "libx264", "-preset", "medium", "-bf", "2", "-f", "h264"],
        ),
        Expect(aspect=Fraction(3, 2), fps=Fraction(25)),
        notes="raw H.264 elementary stream (security DVRs, some capture tools): no timestamps at all",
    ),
    CorpusClip(
        "audio-only",
        ".m4a",
        _audio_only,
        Expect(error="INVALID_VIDEO"),
    ),
    CorpusClip(
        "still-image",
        ".mp4",
        _still_image,
        Expect(error="NOT_A_VIDEO"),
        notes="a PNG renamed .mp4",
    ),
)

BY_NAME = {clip.name: clip for clip in CORPUS}


@dataclass(frozen=True)
class OutputFacts:
    """What an output really is, read back with PyAV (independently of the service's probe)."""

    width: int
    height: int
    frames: int
    duration_s: float
    audio_s: float | None
    """Decoded audio length (the first track), None without audio."""
    audio_tracks: int
    sample_aspect: Fraction


def read_output(path: Path) -> OutputFacts:
    """Decode every frame of ``path``: the count, the span of their timestamps, the size."""
    import av

    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        times: list[float] = []
        size = (0, 0)
        for frame in container.decode(stream):
            times.append(float(frame.time or 0.0))
            size = (frame.width, frame.height)
        sar = Fraction(stream.sample_aspect_ratio or 1)
    with av.open(str(path)) as container:
        audio_s = None
        tracks = len(container.streams.audio)
        if tracks:
            track = container.streams.audio[0]
            audio_s = sum(f.samples for f in container.decode(track)) / (track.rate or 1)
    step = times[-1] - times[-2] if len(times) > 1 else 0.0
    return OutputFacts(size[0], size[1], len(times), times[-1] - times[0] + step, audio_s, tracks, sar)


def problems(facts: OutputFacts, expect: Expect) -> list[str]:
    """Every way the output differs from what the clip should give (empty: as expected)."""
    found = []
    if facts.sample_aspect not in (0, 1):
        found.append(f"non-square pixels {facts.sample_aspect}")
    if expect.aspect is not None and abs(facts.width - facts.height * expect.aspect) > 1.0 + 1e-9:
        found.append(f"aspect {facts.width}x{facts.height}, expected {float(expect.aspect):.4f}")
    tolerance = 1 / float(expect.fps) if expect.fps else 0.05  # one frame
    if abs(facts.duration_s - expect.duration_s) > tolerance + 1e-6:
        found.append(f"duration {facts.duration_s:.3f}s, expected {expect.duration_s}s")
    if expect.fps is not None:
        frames = round(float(expect.fps) * expect.duration_s)
        if abs(facts.frames - frames) > 1:
            found.append(f"{facts.frames} frames, expected {frames} at {float(expect.fps):.3f} fps")
    if (facts.audio_s is not None) != expect.audio:
        found.append(f"audio {facts.audio_s is not None}, expected {expect.audio}")
    elif facts.audio_tracks > 1:
        found.append(f"{facts.audio_tracks} audio tracks, expected the default one only")
    elif facts.audio_s is not None and abs(facts.audio_s - facts.duration_s) > 0.1:
        found.append(f"audio lasts {facts.audio_s:.3f}s, video {facts.duration_s:.3f}s")
    return found
