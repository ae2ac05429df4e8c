from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from media.clips import NO_AUDIO, ClipLibrary, text_file
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
