from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from media.clips import NO_AUDIO, ClipLibrary, ClipSpec, text_file
from video_enhancer.media.cli_enhance import add_enhance_parser
from video_enhancer.media.probe import probe


def _parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="video-enhancer")
    add_enhance_parser(parser.add_subparsers(dest="command"))
    return parser.parse_args(argv)


def test_enhance_command_writes_the_output(
    clips: ClipLibrary, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    output = tmp_path / "out.mp4"
    args = _parse(
        [
            "enhance",
            str(clips.get(NO_AUDIO).path),
            "-o",
            str(output),
            "--max-height",
            "128",
            "--preset",
            "ultrafast",
            "--crf",
            "23",
        ]
    )
    assert args.handler(args) == 0
    assert (probe(output).video.width, probe(output).video.height) == (192, 128)
    assert "classical fallback" in capsys.readouterr().out


def test_enhance_command_reports_bad_input(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = _parse(["enhance", str(text_file(tmp_path)), "-o", str(tmp_path / "out.mp4")])
    assert args.handler(args) == 1
    assert "INVALID_VIDEO" in capsys.readouterr().err


def test_enhance_command_runs_stream_diffvsr_from_a_weights_folder(
    clips: ClipLibrary, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from stream_diffvsr.testing import write_random_raft_weights, write_tiny_checkpoint

    clip = clips.get(ClipSpec(name="tiny-square", width=32, height=32, fps=4, seconds=1.0, audio_channels=2))
    weights = write_tiny_checkpoint(tmp_path / "model")
    raft = write_random_raft_weights(tmp_path / "raft.pth")
    output = tmp_path / "out.mp4"
    model = ["--model", "stream-diffvsr", "--weights", str(weights), "--flow-weights", str(raft)]
    runtime = ["--device", "cpu", "--dtype", "float32", "--max-height", "128", "--preset", "ultrafast"]
    args = _parse(["enhance", str(clip.path), "-o", str(output), *model, *runtime])
    assert args.handler(args) == 0, capsys.readouterr().err
    info = probe(output)
    assert (info.video.width, info.video.height) == (128, 128)
    assert info.audio is not None
    printed = capsys.readouterr().out
    assert "enhancer stream-diffvsr" in printed and "classical fallback" not in printed


def test_enhance_command_without_weights_names_the_problem(
    clips: ClipLibrary, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from video_enhancer.config import get_settings

    monkeypatch.delenv("VE_MODEL_PATH", raising=False)
    monkeypatch.delenv("VE_MODEL_ID", raising=False)
    get_settings.cache_clear()
    args = _parse(
        ["enhance", str(clips.get(NO_AUDIO).path), "-o", str(tmp_path / "o.mp4"), "--model", "stream-diffvsr"]
    )
    try:
        assert args.handler(args) == 1
    finally:
        get_settings.cache_clear()
    assert "ENHANCER_UNAVAILABLE" in capsys.readouterr().err
    assert not (tmp_path / "o.mp4").exists()
