"""A Real-ESRGAN enhancer through the real pipeline: the `enhance` command on a tiny clip."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from factories import write_realesrgan_weights
from media.clips import ClipLibrary, ClipSpec
from video_enhancer.cli.enhance import add_enhance_parser
from video_enhancer.config import Settings
from video_enhancer.media.probe import probe
from video_enhancer.worker.process import enhancer_options


def _parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="video-enhancer")
    add_enhance_parser(parser.add_subparsers(dest="command"))
    return parser.parse_args(argv)


def test_enhance_command_runs_realesrgan_from_a_weights_file(
    clips: ClipLibrary, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    clip = clips.get(ClipSpec(name="tiny-wide", width=32, height=16, fps=4, seconds=1.0, audio_channels=2))
    weights = write_realesrgan_weights(tmp_path / "anime.pth", "realesr-animevideov3")
    output = tmp_path / "out.mp4"
    model = ["--model", "realesr-animevideov3", "--weights", str(weights), "--device", "cpu"]
    runtime = ["--max-height", "64", "--preset", "ultrafast"]
    args = _parse(["enhance", str(clip.path), "-o", str(output), *model, *runtime])
    assert args.handler(args) == 0, capsys.readouterr().err
    info = probe(output)
    assert (info.video.width, info.video.height) == (128, 64)
    assert info.audio is not None
    assert "enhancer realesr-animevideov3" in capsys.readouterr().out


def test_worker_loads_realesrgan_from_the_models_folder(settings: Settings, tmp_path: Path) -> None:
    settings.enhancer = "realesr-general-x4v3"
    settings.models_dir = tmp_path
    options = enhancer_options(settings)
    assert options["weights"] == tmp_path / "realesr-general-x4v3.pth"
    assert options["device"] == settings.model_device and options["tile"] == settings.realesrgan_tile
