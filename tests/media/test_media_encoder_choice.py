"""`VE_ENCODER_PRIORITY=speed`: NVENC where it opens, else the CPU encoder (the path taken here)."""

from __future__ import annotations

from pathlib import Path

from media.clips import CFR, ClipLibrary
from media.fake_enhancers import CountingEnhancer
from video_enhancer.media.encode import NVENC, EncoderSettings, choose_encoder, encoder_opens
from video_enhancer.media.pipeline import PipelineConfig, run_pipeline
from video_enhancer.media.probe import probe
from video_enhancer.media.verify import verify_output

X264 = EncoderSettings(codec="libx264", preset="slow", crf=20)


def test_speed_takes_nvenc_only_when_it_opens() -> None:
    assert choose_encoder(X264, prefer_speed=True, opens=lambda codec: codec == NVENC).codec == NVENC
    assert choose_encoder(X264, prefer_speed=True, opens=lambda codec: False) == X264
    assert choose_encoder(X264, prefer_speed=False, opens=lambda codec: True) == X264


def test_nvenc_keeps_the_quality_setting_as_constant_quality() -> None:
    nvenc = choose_encoder(X264, prefer_speed=True, opens=lambda codec: True)
    options = nvenc.codec_options()
    assert (options["preset"], options["rc"], options["cq"], options["forced-idr"]) == (
        "p6",
        "vbr",
        "20",
        "1",
    )


def test_the_probe_opens_what_this_machine_can_encode_with() -> None:
    assert encoder_opens("libx264") and not encoder_opens("no_such_encoder")


def test_asked_for_speed_a_machine_without_nvenc_encodes_on_the_cpu(
    clips: ClipLibrary, tmp_path: Path
) -> None:
    info = probe(clips.get(CFR).path)
    chosen = choose_encoder(EncoderSettings(preset="ultrafast"), prefer_speed=True)
    config = PipelineConfig(max_height=64, encoder=chosen)
    result = run_pipeline(info, tmp_path / "out.mp4", CountingEnhancer(), config)
    verify_output(info, tmp_path / "out.mp4", result.sizes.output)
    if not encoder_opens(NVENC):  # this machine: no NVIDIA GPU, so libx264 it is
        assert chosen.codec == "libx264"
        assert probe(tmp_path / "out.mp4").video.codec == "h264"
