from __future__ import annotations

from pathlib import Path

import pytest

from media.clips import (
    CFR,
    HDR_HLG,
    HDR_PQ,
    ODD,
    ROTATED,
    SURROUND,
    VFR,
    VFR_B_FRAMES,
    ClipLibrary,
    ClipSpec,
    audio_only_file,
    empty_file,
    faststart_copy,
    text_file,
    truncated_copy,
    unknown_codec_file,
)
from video_enhancer.media.errors import InvalidVideo, UnsupportedCodec
from video_enhancer.media.probe import probe


def test_constant_rate_clip_with_stereo_audio(clips: ClipLibrary) -> None:
    clip = clips.get(CFR)
    info = probe(clip.path)
    assert info.video.frame_count == clip.frames == 20
    assert info.duration_s == pytest.approx(2.0)
    assert float(info.video.frame_rate) == pytest.approx(10.0)
    assert not info.video.variable_frame_rate
    assert (info.video.width, info.video.height) == (96, 64)
    assert info.video.bit_depth == 8 and info.video.hdr is None
    assert [(a.codec, a.channels) for a in info.audio] == [("aac", 2)]


@pytest.mark.parametrize("spec", [VFR, VFR_B_FRAMES], ids=["no-b-frames", "b-frames"])
def test_variable_rate_is_detected_and_duration_measured(clips: ClipLibrary, spec: ClipSpec) -> None:
    clip = clips.get(spec)
    info = probe(clip.path)
    assert info.video.variable_frame_rate
    assert info.video.frame_count == clip.frames
    # The last frame's duration is the muxer's guess (one or two intervals).
    assert info.duration_s == pytest.approx(clip.duration_s, abs=1 / clip.spec.fps + 1e-6)


def test_rotation_swaps_the_upright_size(clips: ClipLibrary) -> None:
    info = probe(clips.get(ROTATED).path)
    assert info.video.rotation == 90
    assert (info.video.coded_width, info.video.coded_height) == (96, 64)
    assert (info.video.width, info.video.height) == (64, 96)


def test_surround_audio_and_creation_time(clips: ClipLibrary) -> None:
    info = probe(clips.get(SURROUND).path)
    assert [(a.channels, a.channel_layout) for a in info.audio] == [(6, "5.1")]
    assert info.creation_time is not None and info.creation_time.startswith("2021-03-04T05:06:07")


@pytest.mark.parametrize(
    ("spec", "kind", "transfer"), [(HDR_PQ, "pq", "smpte2084"), (HDR_HLG, "hlg", "arib-std-b67")]
)
def test_hdr_transfer_and_bit_depth(clips: ClipLibrary, spec, kind: str, transfer: str) -> None:
    info = probe(clips.get(spec).path)
    assert info.video.hdr == kind
    assert info.video.color_transfer == transfer
    assert info.video.color_primaries == "bt2020"
    assert info.video.bit_depth == 10


def test_odd_dimensions_are_reported_as_they_are(clips: ClipLibrary) -> None:
    info = probe(clips.get(ODD).path)
    assert (info.video.width, info.video.height) == (95, 63)


def test_zero_byte_file_is_invalid(tmp_path: Path) -> None:
    with pytest.raises(InvalidVideo) as caught:
        probe(empty_file(tmp_path))
    assert caught.value.code == "INVALID_VIDEO"


def test_text_file_named_mp4_is_invalid(tmp_path: Path) -> None:
    with pytest.raises(InvalidVideo) as caught:
        probe(text_file(tmp_path))
    assert caught.value.detail  # FFmpeg's message travels with the error


def test_unknown_video_codec_is_unsupported(tmp_path: Path) -> None:
    with pytest.raises(UnsupportedCodec) as caught:
        probe(unknown_codec_file(tmp_path))
    assert caught.value.code == "UNSUPPORTED_CODEC"


def test_missing_file_is_invalid(tmp_path: Path) -> None:
    with pytest.raises(InvalidVideo):
        probe(tmp_path / "missing.mp4")


def test_truncated_file_is_invalid(clips: ClipLibrary, tmp_path: Path) -> None:
    with pytest.raises(InvalidVideo):
        probe(truncated_copy(clips.get(CFR), tmp_path))


def test_truncated_file_with_index_at_front_is_invalid(clips: ClipLibrary, tmp_path: Path) -> None:
    # The index survives the cut, so the header still promises every frame.
    faststart = faststart_copy(clips.get(CFR), tmp_path)
    truncated = tmp_path / "cut.mp4"
    truncated.write_bytes(faststart.read_bytes()[: faststart.stat().st_size // 2])
    with pytest.raises(InvalidVideo, match="truncated"):
        probe(truncated)


def test_audio_only_file_has_no_video(tmp_path: Path) -> None:
    with pytest.raises(InvalidVideo, match="no video"):
        probe(audio_only_file(tmp_path))
