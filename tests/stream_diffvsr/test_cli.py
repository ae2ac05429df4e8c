"""``python -m stream_diffvsr upscale`` end to end on tiny PNG frames, RAFT with random weights."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from stream_diffvsr.cli import main

FRAME_NAMES = ["frame_000.png", "frame_001.png"]


@pytest.fixture(scope="module")
def frames_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("frames")
    rng = np.random.default_rng(0)
    base = rng.integers(0, 256, size=(34, 33, 3), dtype=np.uint8)  # not a multiple of 4
    for shift, name in enumerate(FRAME_NAMES):
        Image.fromarray(np.roll(base, shift, axis=1)).save(folder / name)
    (folder / "notes.txt").write_text("not a frame")
    return folder


def upscale(tiny_checkpoint: Path, raft_weights: Path, frames: Path, out: Path, *extra: str) -> int:
    argv = ["upscale", "--model", str(tiny_checkpoint), "--input", str(frames), "--output", str(out)]
    return main([*argv, "--flow-weights", str(raft_weights), "--device", "cpu", *extra])


def test_upscale_writes_one_png_per_frame_and_raw_outputs(
    tiny_checkpoint: Path, raft_weights: Path, frames_dir: Path, tmp_path: Path
) -> None:
    out = tmp_path / "seeded"
    assert upscale(tiny_checkpoint, raft_weights, frames_dir, out, "--seed", "5", "--save-raw") == 0
    assert sorted(p.name for p in out.glob("*.png")) == FRAME_NAMES
    for name in FRAME_NAMES:
        image = np.asarray(Image.open(out / name))
        raw = np.load(out / name.replace(".png", ".npy"))
        # Lanczos-resized down to 32x32 first (reference preprocessing), then x4.
        assert image.shape == (128, 128, 3) and raw.shape == (3, 128, 128)
        assert raw.dtype == np.float32
        expected = np.round(np.clip(raw * 0.5 + 0.5, 0, 1) * 255).astype(np.uint8)
        assert np.array_equal(image, expected.transpose(1, 2, 0))

    # Explicit latents equal to the seeded draws reproduce the seeded run exactly.
    generator = torch.Generator().manual_seed(5)
    latents = torch.cat([torch.randn((1, 4, 32, 32), generator=generator) for _ in FRAME_NAMES])
    latents_file = tmp_path / "latents.npy"
    np.save(latents_file, latents.numpy())
    again = tmp_path / "latents"
    assert (
        upscale(
            tiny_checkpoint, raft_weights, frames_dir, again, "--latents", str(latents_file), "--save-raw"
        )
        == 0
    )
    for name in FRAME_NAMES:
        stem = name.replace(".png", ".npy")
        assert np.array_equal(np.load(out / stem), np.load(again / stem))


def test_too_few_latents_is_a_clear_error(
    tiny_checkpoint: Path,
    raft_weights: Path,
    frames_dir: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    latents_file = tmp_path / "short.npy"
    np.save(latents_file, np.zeros((1, 4, 32, 32), dtype=np.float32))
    code = upscale(tiny_checkpoint, raft_weights, frames_dir, tmp_path / "o", "--latents", str(latents_file))
    assert code == 2
    assert "latents must have shape" in capsys.readouterr().err


def test_module_entry_point_prints_usage() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "stream_diffvsr", "upscale", "--help"],
        capture_output=True,
        text=True,
        check=True,
    )
    for option in ("--model", "--flow-weights", "--steps", "--seed", "--latents", "--dtype", "--save-raw"):
        assert option in result.stdout
