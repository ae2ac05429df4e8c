from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from media.clips import CFR, ClipLibrary
from video_enhancer.media.errors import OutputVerificationFailed
from video_enhancer.media.local import enhance_file
from video_enhancer.media.probe import MediaInfo, probe
from video_enhancer.media.verify import verify_output


@pytest.fixture(scope="module")
def enhanced(clips: ClipLibrary, tmp_path_factory: pytest.TempPathFactory) -> tuple[MediaInfo, Path]:
    clip = clips.get(CFR)
    output = tmp_path_factory.mktemp("verify") / "out.mp4"
    enhance_file(clip.path, output, max_height=128, preset="ultrafast")
    return probe(clip.path), output


def test_a_correct_output_passes(enhanced: tuple[MediaInfo, Path]) -> None:
    source, output = enhanced
    verified = verify_output(source, output, (192, 128))
    assert verified.decoded_frames == 20


def test_wrong_size_fails(enhanced: tuple[MediaInfo, Path]) -> None:
    source, output = enhanced
    with pytest.raises(OutputVerificationFailed, match="size") as caught:
        verify_output(source, output, (190, 128))
    assert caught.value.code == "OUTPUT_VERIFICATION_FAILED"


def test_audio_where_the_input_had_none_fails(enhanced: tuple[MediaInfo, Path]) -> None:
    source, output = enhanced
    with pytest.raises(OutputVerificationFailed, match="audio"):
        verify_output(dataclasses.replace(source, audio=()), output, (192, 128))


def test_missing_frames_fail(enhanced: tuple[MediaInfo, Path]) -> None:
    source, output = enhanced
    video = source.video
    half_second = round(0.5 / video.time_base)
    longer = dataclasses.replace(
        source,
        duration_s=2.5,
        video=dataclasses.replace(video, frame_count=25, end_pts=video.end_pts + half_second),
    )
    with pytest.raises(OutputVerificationFailed, match="frames") as caught:
        verify_output(longer, output, (192, 128))
    assert "duration" in caught.value.detail


def test_damaged_output_fails(enhanced: tuple[MediaInfo, Path], tmp_path: Path) -> None:
    source, output = enhanced
    damaged = tmp_path / "damaged.mp4"
    damaged.write_bytes(output.read_bytes()[: output.stat().st_size // 3])
    with pytest.raises(OutputVerificationFailed):
        verify_output(source, damaged, (192, 128))
