"""``python -m stream_diffvsr upscale-batch``: the same files as ``upscale`` per stream."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from stream_diffvsr.cli import build_parser, main

TOLERANCE = 1e-4


def write_frames(folder: Path, count: int, height: int, width: int, seed: int) -> Path:
    folder.mkdir(parents=True)
    rng = np.random.default_rng(seed)
    base = rng.integers(0, 256, size=(height, width, 3), dtype=np.uint8)
    for index in range(count):
        Image.fromarray(np.roll(base, index, axis=1)).save(folder / f"f{index:03d}.png")
    return folder


def model_args(tiny_checkpoint: Path, raft_weights: Path) -> list[str]:
    return ["--model", str(tiny_checkpoint), "--flow-weights", str(raft_weights), "--save-raw"]


def test_streams_of_mixed_sizes_and_lengths_equal_their_single_runs(
    tiny_checkpoint: Path, raft_weights: Path, tmp_path: Path
) -> None:
    a = write_frames(tmp_path / "a", 3, 34, 33, seed=0)  # Lanczos-resized to 32x32 like upscale
    b = write_frames(tmp_path / "b", 2, 36, 40, seed=1)
    c = write_frames(tmp_path / "c", 1, 32, 32, seed=2)
    latents = np.random.default_rng(3).standard_normal((2, 4, 36, 40)).astype(np.float32)
    np.save(tmp_path / "b.npy", latents)
    streams = [
        {"input": str(a), "output": str(tmp_path / "out_a"), "seed": 5},
        {"input": str(b), "output": str(tmp_path / "out_b"), "latents": str(tmp_path / "b.npy")},
        {"input": str(c), "output": str(tmp_path / "out_c"), "seed": 7},
    ]
    (tmp_path / "streams.json").write_text(json.dumps(streams))
    argv = ["upscale-batch", *model_args(tiny_checkpoint, raft_weights)]
    assert main([*argv, "--streams", str(tmp_path / "streams.json"), "--max-batch", "2"]) == 0

    singles = [["--seed", "5"], ["--latents", str(tmp_path / "b.npy")], ["--seed", "7"]]
    for stream, noise in zip(streams, singles, strict=True):
        single = tmp_path / f"single_{Path(stream['output']).name}"
        argv = ["upscale", *model_args(tiny_checkpoint, raft_weights), *noise]
        assert main([*argv, "--input", stream["input"], "--output", str(single)]) == 0
        names = sorted(p.name for p in single.iterdir())
        assert sorted(p.name for p in Path(stream["output"]).iterdir()) == names
        for name in names:
            expected, actual = (
                np.asarray(Image.open(d / name)) if name.endswith(".png") else np.load(d / name)
                for d in (single, Path(stream["output"]))
            )
            if name.endswith(".npy"):
                assert np.abs(expected - actual).max() <= TOLERANCE
            else:  # a rounding boundary may flip one level
                assert np.abs(expected.astype(int) - actual.astype(int)).max() <= 1


@pytest.mark.parametrize(
    ("streams", "message"),
    [
        ("not json", "cannot read"),
        ([], "non-empty"),
        ([{"input": "{a}"}], '"input" and "output"'),
        ([{"input": "{a}", "output": "{o}", "sed": 1}], "unknown keys"),
        ([{"input": "{a}", "output": "{o}", "seed": 1, "latents": "x.npy"}], "not both"),
        ([{"input": "{a}", "output": "{o}", "seed": "one"}], "integer"),
        ([{"input": "{a}", "output": "{o}"}, {"input": "{a}", "output": "{o}"}], "same output"),
        ([{"input": "{mixed}", "output": "{o}"}], "share one size"),
        ([{"input": "{a}", "output": "{o}", "latents": "{wrong}"}], "latents are"),
        ([{"input": "{missing}", "output": "{o}"}], "not found"),
        ([{"input": "{a}", "output": "{o}", "latents": "{missing}"}], "cannot read latents"),
    ],
)
def test_bad_streams_files_are_clear_errors_before_any_output(
    tiny_checkpoint: Path,
    raft_weights: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    streams: object,
    message: str,
) -> None:
    paths = {
        "a": write_frames(tmp_path / "a", 2, 32, 32, seed=0),
        "mixed": write_frames(tmp_path / "mixed", 1, 32, 32, seed=0),
        "o": tmp_path / "out",
        "wrong": tmp_path / "wrong.npy",
        "missing": tmp_path / "missing",
    }
    write_frames(tmp_path / "other", 1, 40, 32, seed=0)
    (tmp_path / "other" / "f000.png").rename(paths["mixed"] / "f001.png")
    np.save(paths["wrong"], np.zeros((2, 4, 16, 16), dtype=np.float32))
    text = streams if isinstance(streams, str) else json.dumps(streams)
    for name, path in paths.items():
        text = text.replace("{" + name + "}", str(path))
    (tmp_path / "streams.json").write_text(text)
    argv = ["upscale-batch", *model_args(tiny_checkpoint, raft_weights)]
    assert main([*argv, "--streams", str(tmp_path / "streams.json")]) == 2
    assert message in capsys.readouterr().err
    assert not paths["o"].exists()


def test_upscale_batch_takes_the_documented_options() -> None:
    argv = ["upscale-batch", "--model", "m", "--flow-weights", "f.pth", "--streams", "s.json"]
    options = ["--max-batch", "3", "--steps", "2", "--device", "cpu", "--dtype", "bfloat16", "--save-raw"]
    args = build_parser().parse_args([*argv, *options])
    assert (args.max_batch, args.steps, args.dtype, args.save_raw) == (3, 2, "bfloat16", True)
    assert args.streams == Path("s.json") and args.flow_weights == Path("f.pth")


def test_max_batch_below_one_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["upscale-batch", "--model", "m", "--streams", str(tmp_path / "s.json"), "--max-batch", "0"]
    assert main(argv) == 2
    assert "--max-batch must be >= 1" in capsys.readouterr().err
