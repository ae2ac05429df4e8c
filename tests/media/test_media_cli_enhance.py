from __future__ import annotations

import argparse
import os
import signal
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from media.clips import LONG, NO_AUDIO, ClipLibrary, ClipSpec, text_file
from media.fake_enhancers import CountingEnhancer
from video_enhancer.cli.enhance import add_enhance_parser
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


def _signal_when(condition: Callable[[], bool], signum: int) -> threading.Thread:
    """Send ``signum`` to this process once ``condition`` holds (the command handles it)."""

    def watch() -> None:
        deadline = time.monotonic() + 30
        while not condition():
            assert time.monotonic() < deadline
            time.sleep(0.01)
        os.kill(os.getpid(), signum)

    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    return thread


def _slow_enhancer(monkeypatch: pytest.MonkeyPatch) -> list[CountingEnhancer]:
    """A stand-in model slow enough (0.1 s a frame) for a signal to land mid-run."""
    made: list[CountingEnhancer] = []

    def make(name: str, **options: object) -> CountingEnhancer:
        made.append(CountingEnhancer(delay_s=0.1))
        return made[-1]

    monkeypatch.setattr("video_enhancer.media.local.get_enhancer", make)
    return made


def _enhance_args(clip: Path, output: Path, *extra: str) -> argparse.Namespace:
    common = ["--max-height", "72", "--preset", "ultrafast", "--segment-seconds", "1"]
    return _parse(["enhance", str(clip), "-o", str(output), *common, *extra])


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_signal_without_checkpoint_aborts_and_leaves_nothing(
    clips: ClipLibrary,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    signum: signal.Signals,
) -> None:
    _slow_enhancer(monkeypatch)
    output = tmp_path / "out" / "video.mp4"
    output.parent.mkdir()
    before = signal.getsignal(signum)
    args = _enhance_args(clips.get(LONG).path, output)
    watcher = _signal_when(lambda: any(output.parent.glob("enhance-*")), signum)
    assert args.handler(args) == 128 + signum
    watcher.join()
    assert "interrupted" in capsys.readouterr().err
    assert list(output.parent.iterdir()) == []  # no output, no partial file, no scratch folder
    assert signal.getsignal(signum) == before


def test_signal_with_checkpoint_stops_after_the_segment_and_a_rerun_resumes(
    clips: ClipLibrary, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    enhancers = _slow_enhancer(monkeypatch)
    clip = clips.get(LONG)  # 48 frames in 6 segments of 8
    output = tmp_path / "out" / "video.mp4"
    output.parent.mkdir()
    checkpoint = tmp_path / "checkpoint"
    args = _enhance_args(clip.path, output, "--checkpoint-dir", str(checkpoint))
    watcher = _signal_when(lambda: any(checkpoint.glob("*.json")), signal.SIGTERM)
    assert args.handler(args) == 128 + signal.SIGTERM
    watcher.join()
    assert "run again to resume" in capsys.readouterr().err
    saved = len(list(checkpoint.glob("*.json")))
    assert 1 <= saved < 6 and list(output.parent.iterdir()) == []

    assert args.handler(args) == 0
    assert enhancers[-1].opened_with == [str(8 * saved).encode()]  # resumed after the saved segments
    assert probe(output).video.frame_count == 48
    assert not checkpoint.exists()  # cleared once the output is verified
