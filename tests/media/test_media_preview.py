"""Before/after previews and fidelity figures on real clips (black opening, rotated phone clip)."""

from __future__ import annotations

import argparse
from dataclasses import replace
from pathlib import Path

import av
import numpy as np
import pytest
from PIL import Image

from media.clips import (
    BLACK_START,
    CFR,
    PCM_MOV,
    PHONE_PORTRAIT,
    SURROUND,
    VFR,
    ClipLibrary,
    ClipSpec,
    run_ffmpeg,
    with_name,
)
from media.fake_enhancers import BrokenEnhancer
from video_enhancer.cli.enhance import add_enhance_parser
from video_enhancer.enhancers.lanczos import LanczosEnhancer
from video_enhancer.media.decode import iter_frames
from video_enhancer.media.encode import EncoderSettings
from video_enhancer.media.pipeline import PipelineConfig, run_pipeline
from video_enhancer.media.preview import PreviewSpanInvalid, choose_start, make_preview
from video_enhancer.media.probe import probe
from video_enhancer.media.quality import measure_fidelity, psnr, ssim

VFR_AUDIO = with_name(replace(VFR, audio_channels=2, audio_codec="libopus", container="mkv"), "vfr-opus")
CONFIG = PipelineConfig(max_height=128, encoder=EncoderSettings(preset="ultrafast", crf=18))


def test_the_span_avoids_a_black_first_second(clips: ClipLibrary) -> None:
    info = probe(clips.get(BLACK_START).path)
    assert choose_start(info, 3.0) >= 1.0


def test_preview_of_a_black_opening_writes_three_files_in_sync(clips: ClipLibrary, tmp_path: Path) -> None:
    info = probe(clips.get(BLACK_START).path)
    result = make_preview(info, tmp_path / "out.mp4", LanczosEnhancer(), CONFIG, seconds=2.0)
    before, after = probe(result.files.before), probe(result.files.after)
    assert (after.video.width, after.video.height) == (192, 128)
    assert (before.video.width, before.video.height) == (192, 128)
    assert before.video.frame_count == after.video.frame_count == 20  # 2 s at 10 fps
    assert before.video.end_pts * before.video.time_base == after.video.end_pts * after.video.time_base
    middle = list(iter_frames(after, (192, 128)))[10].image
    assert middle.mean() > 20  # the span is past the black second
    with Image.open(result.files.compare) as still:
        assert still.size == (384, 128)
    assert result.fidelity.psnr_db > 25 and result.fidelity.ssim > 0.9


def test_preview_of_a_rotated_phone_clip_is_upright(clips: ClipLibrary, tmp_path: Path) -> None:
    info = probe(clips.get(PHONE_PORTRAIT).path)  # coded 96x64, shown 64x96
    result = make_preview(info, tmp_path / "p.mp4", LanczosEnhancer(), CONFIG, seconds=1.0, start_s=0.5)
    after = probe(result.files.after)
    assert (after.video.width, after.video.height) == (128, 192) and after.video.rotation == 0
    assert result.start_s == 0.5
    with Image.open(result.files.compare) as still:
        assert still.size == (256, 192)


def test_a_start_past_the_end_is_refused(clips: ClipLibrary, tmp_path: Path) -> None:
    info = probe(clips.get(CFR).path)
    with pytest.raises(PreviewSpanInvalid):
        make_preview(info, tmp_path / "x.mp4", LanczosEnhancer(), CONFIG, seconds=1.0, start_s=9.0)


def test_cli_preview_writes_the_three_files(
    clips: ClipLibrary, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    parser = argparse.ArgumentParser(prog="video-enhancer")
    add_enhance_parser(parser.add_subparsers(dest="command"))
    output = tmp_path / "clip.mp4"
    source = str(clips.get(BLACK_START).path)
    argv = ["enhance", source, "-o", str(output), "--preview", "--start", "1.5", "--max-height", "128"]
    args = parser.parse_args([*argv, "--preset", "ultrafast", "--preview-seconds", "1"])
    assert args.handler(args) == 0
    for name in ("clip.before.mp4", "clip.after.mp4", "clip.compare.jpg"):
        assert (tmp_path / name).stat().st_size > 0
    assert not output.exists()
    assert "PSNR" in capsys.readouterr().out


def test_psnr_and_ssim_of_identical_and_unrelated_pictures() -> None:
    rng = np.random.default_rng(1)
    a = rng.integers(0, 256, (32, 48, 3), dtype=np.uint8)
    b = rng.integers(0, 256, (32, 48, 3), dtype=np.uint8)
    assert psnr(a, a) == 100.0 and ssim(a, a) == pytest.approx(1.0)
    assert psnr(a, b) < 10 and abs(ssim(a, b)) < 0.1


@pytest.mark.parametrize("mode", ["noise", "swap", "black"])
def test_a_broken_enhancer_scores_far_below_lanczos(clips: ClipLibrary, tmp_path: Path, mode: str) -> None:
    info = probe(clips.get(CFR).path)
    good = run_pipeline(info, tmp_path / "good.mp4", LanczosEnhancer(), CONFIG, work_dir=tmp_path)
    bad = run_pipeline(info, tmp_path / "bad.mp4", BrokenEnhancer(mode), CONFIG, work_dir=tmp_path)
    honest = measure_fidelity(info, probe(good.output))
    broken = measure_fidelity(info, probe(bad.output))
    assert honest.psnr_db > 25 and honest.ssim > 0.9
    assert broken.psnr_db < 15


def _flash_and_beep_clip(path: Path) -> Path:
    """4 s, 10 fps: black, one white frame at 2.0 s; silence, a 1 kHz beep from 2.0 s (AAC)."""
    video = "color=c=black:s=64x48:r=10,drawbox=c=white:t=fill:enable='between(t,2.0,2.05)'"
    audio = "aevalsrc='if(between(t,2.0,2.2),0.8*sin(2*PI*1000*t),0)':s=48000:c=stereo"
    args = ["-f", "lavfi", "-i", video, "-f", "lavfi", "-i", audio, "-t", "4", "-map", "0:v", "-map", "1:a"]
    codecs = ["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-c:a", "aac"]
    run_ffmpeg([*args, *codecs, str(path)])
    return path


def _flash_s(path: Path) -> float:
    info = probe(path)
    bright = next(f for f in iter_frames(info, (info.video.width, info.video.height)) if f.image.mean() > 128)
    return float((bright.pts - info.video.first_pts) * bright.time_base)


def _beep_s(path: Path) -> float:
    """When the sound first rises above a tenth of full scale, on the file's timeline."""
    with av.open(str(path)) as container:
        for frame in container.decode(audio=0):
            samples = np.abs(frame.to_ndarray()).max(axis=0)
            loud = np.flatnonzero(samples > 0.1)
            if loud.size:
                assert frame.pts is not None and frame.time_base is not None
                return float(frame.pts * frame.time_base) + int(loud[0]) / frame.sample_rate
    raise AssertionError(f"{path.name} is silent")


def test_both_clips_carry_the_span_of_the_source_audio_in_sync(tmp_path: Path) -> None:
    info = probe(_flash_and_beep_clip(tmp_path / "flash.mp4"))
    result = make_preview(info, tmp_path / "p.mp4", LanczosEnhancer(), CONFIG, seconds=2.0, start_s=1.0)
    for path in (result.files.before, result.files.after):
        clip = probe(path)
        [track] = clip.audio
        assert track.codec == "aac" and track.channels == 2  # encoded like the full job's
        duration = float((clip.video.end_pts - clip.video.first_pts) * clip.video.time_base)
        assert duration == pytest.approx(2.0)
        assert track.end_s - track.start_s == pytest.approx(duration, abs=0.03)
        # The flash and the beep are 1.0 s into the span, together (within 10 ms).
        assert _flash_s(path) == pytest.approx(1.0)
        assert _beep_s(path) == pytest.approx(1.0, abs=0.01)
    assert _beep_s(result.files.before) == pytest.approx(_beep_s(result.files.after), abs=0.001)


def test_a_span_of_a_clip_without_sound_stays_silent(clips: ClipLibrary, tmp_path: Path) -> None:
    info = probe(clips.get(BLACK_START).path)
    result = make_preview(info, tmp_path / "s.mp4", LanczosEnhancer(), CONFIG, seconds=1.0, start_s=2.0)
    assert probe(result.files.before).audio == probe(result.files.after).audio == ()


@pytest.mark.parametrize(("spec", "channels"), [(SURROUND, 6), (PCM_MOV, 2), (VFR_AUDIO, 2)])
def test_a_span_keeps_the_sound_of_other_layouts_and_codecs(
    clips: ClipLibrary, tmp_path: Path, spec: ClipSpec, channels: int
) -> None:
    info = probe(clips.get(spec).path)
    result = make_preview(info, tmp_path / "a.mp4", LanczosEnhancer(), CONFIG, seconds=0.6, start_s=0.3)
    for path in (result.files.before, result.files.after):
        clip = probe(path)
        [track] = clip.audio
        assert (track.codec, track.channels) == ("aac", channels)
        end = float(clip.video.end_pts * clip.video.time_base)
        assert track.end_s == pytest.approx(end, abs=0.03)


def test_a_variable_frame_rate_span_keeps_its_timestamps(clips: ClipLibrary, tmp_path: Path) -> None:
    info = probe(clips.get(VFR).path)  # 12 fps, then 6 fps from 1 s
    result = make_preview(info, tmp_path / "v.mp4", LanczosEnhancer(), CONFIG, seconds=1.0, start_s=0.5)
    video = info.video
    source = [(pts - video.first_pts) * video.time_base for pts in video.frame_pts]
    origin = next(t for t in source if t >= 0.5)
    expected = [t - origin for t in source if origin <= t < 1.5]
    for path in (result.files.before, result.files.after):
        clip = probe(path).video
        times = [(pts - clip.first_pts) * clip.time_base for pts in clip.frame_pts]
        assert [round(float(t), 3) for t in times] == [round(float(t), 3) for t in expected]
