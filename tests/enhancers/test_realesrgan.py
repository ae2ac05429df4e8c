"""Real-ESRGAN enhancers on random weights saved in the published file layouts."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch

from factories import write_realesrgan_weights
from video_enhancer.enhancers import Enhancer, EnhancerError, EnhancerSession, get_enhancer
from video_enhancer.enhancers.realesrgan import RealESRGANEnhancer, frame_to_tensor
from video_enhancer.enhancers.registry import EnhancerUnavailableError
from video_enhancer.enhancers.tiling import Tiling, receptive_radius, spans, upscale_tiled

MODELS = ("realesrgan-x4plus", "realesr-general-x4v3", "realesr-animevideov3")


@pytest.fixture(scope="module", autouse=True)
def two_cpu_threads() -> Iterator[None]:
    previous = torch.get_num_threads()
    torch.set_num_threads(2)
    yield
    torch.set_num_threads(previous)


@pytest.fixture(scope="module")
def weights(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("realesrgan")
    return {name: write_realesrgan_weights(folder / f"{name}.pth", name) for name in MODELS}


def _frame(height: int, width: int, seed: int = 1) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)


def test_published_layouts_are_what_the_files_hold(weights: dict[str, Path]) -> None:
    x4plus = torch.load(weights["realesrgan-x4plus"], weights_only=True)
    assert list(x4plus) == ["params_ema"]
    assert {"conv_first.weight", "body.22.rdb3.conv5.bias", "conv_up2.weight", "conv_last.bias"} <= set(
        x4plus["params_ema"]
    )
    compact = torch.load(weights["realesr-general-x4v3"], weights_only=True)
    assert list(compact) == ["params"] and "body.66.weight" in compact["params"]


@pytest.mark.parametrize("name", MODELS)
def test_loads_each_model_and_upscales_x4(name: str, weights: dict[str, Path]) -> None:
    enhancer = get_enhancer(name, weights=weights[name], device="cpu")
    assert isinstance(enhancer, Enhancer) and enhancer.name == name and enhancer.native_scale == 4
    session = enhancer.open_session((20, 12), (80, 48))
    assert isinstance(session, EnhancerSession)
    out = session.enhance(_frame(12, 20))
    assert out.shape == (48, 80, 3) and out.dtype == np.uint8 and out.flags.c_contiguous
    assert session.state() == b""


def test_auto_device_is_the_cpu_without_a_gpu(weights: dict[str, Path]) -> None:
    enhancer = get_enhancer("realesr-animevideov3", weights=weights["realesr-animevideov3"], device="auto")
    assert isinstance(enhancer, RealESRGANEnhancer)
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert enhancer.device.type == expected
    assert next(enhancer.model.model.parameters()).device.type == expected
    assert enhancer.dtype == (torch.float16 if expected == "cuda" else torch.float32)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a GPU")
def test_gpu_output_matches_cpu_output(weights: dict[str, Path]) -> None:
    path = weights["realesr-general-x4v3"]
    frame = _frame(16, 24)
    on_cpu = get_enhancer("realesr-general-x4v3", weights=path, device="cpu")
    on_gpu = get_enhancer("realesr-general-x4v3", weights=path, device="cuda", dtype="float32")
    cpu_out = on_cpu.open_session((24, 16), (96, 64)).enhance(frame).astype(int)
    gpu_out = on_gpu.open_session((24, 16), (96, 64)).enhance(frame).astype(int)
    assert np.abs(cpu_out - gpu_out).max() <= 1


def test_receptive_radius_counts_the_compact_convolutions(weights: dict[str, Path]) -> None:
    general = get_enhancer("realesr-general-x4v3", weights=weights["realesr-general-x4v3"], device="cpu")
    anime = get_enhancer("realesr-animevideov3", weights=weights["realesr-animevideov3"], device="cpu")
    assert isinstance(general, RealESRGANEnhancer) and isinstance(anime, RealESRGANEnhancer)
    assert receptive_radius(general.model.model) == 34 and general.tiling.pad == 34
    assert receptive_radius(anime.model.model) == 18 and anime.tiling.pad == 18


def _anime_whole_and_tiled(weights: dict[str, Path], pad: int) -> tuple[torch.Tensor, torch.Tensor]:
    enhancer = get_enhancer("realesr-animevideov3", weights=weights["realesr-animevideov3"], device="cpu")
    assert isinstance(enhancer, RealESRGANEnhancer)
    image = frame_to_tensor(_frame(48, 96), enhancer.device, enhancer.dtype)
    whole = upscale_tiled(enhancer.model, image, 4, Tiling(0, 0))
    return whole, upscale_tiled(enhancer.model, image, 4, Tiling(24, pad))


def test_compact_network_tiles_exactly_like_a_whole_frame_run(weights: dict[str, Path]) -> None:
    columns = spans(96, 24, 18)
    # the windows are real parts of the frame, not the whole frame again
    assert len(columns) == 4 and all(c.window_end - c.window_start < 96 for c in columns)
    whole, tiled = _anime_whole_and_tiled(weights, pad=18)
    assert whole.shape == tiled.shape == (1, 3, 192, 384)
    assert torch.allclose(whole, tiled, atol=1e-5), (whole - tiled).abs().max()


def test_too_small_a_pad_shows_at_tile_borders(weights: dict[str, Path]) -> None:
    """The exactness above comes from the pad: with none, tile borders do differ."""
    whole, unpadded = _anime_whole_and_tiled(weights, pad=0)
    assert (whole - unpadded).abs().max() > 1e-3


def test_enhancer_tiles_large_frames_through_the_session(weights: dict[str, Path]) -> None:
    path = weights["realesr-animevideov3"]
    tiled = get_enhancer("realesr-animevideov3", weights=path, device="cpu", tile=16)
    whole = get_enhancer("realesr-animevideov3", weights=path, device="cpu", tile=0)
    frame = _frame(40, 64)
    tiled_out = tiled.open_session((64, 40), (256, 160)).enhance(frame).astype(int)
    whole_out = whole.open_session((64, 40), (256, 160)).enhance(frame).astype(int)
    assert np.abs(tiled_out - whole_out).max() <= 1  # float rounding may flip a uint8 level


def test_wrong_sizes_state_and_frames_are_refused(weights: dict[str, Path]) -> None:
    enhancer = get_enhancer("realesr-animevideov3", weights=weights["realesr-animevideov3"], device="cpu")
    with pytest.raises(EnhancerError, match="upscales x4"):
        enhancer.open_session((20, 12), (40, 24))
    with pytest.raises(EnhancerError, match="stateless"):
        enhancer.open_session((20, 12), (80, 48), state=b"x")
    session = enhancer.open_session((20, 12), (80, 48))
    with pytest.raises(EnhancerError, match="Expected"):
        session.enhance(_frame(12, 21))
    session.close()
    with pytest.raises(EnhancerError, match="closed"):
        session.enhance(_frame(12, 20))


def test_weights_of_another_network_are_refused(weights: dict[str, Path], tmp_path: Path) -> None:
    with pytest.raises(EnhancerUnavailableError, match="not realesr-general-x4v3"):
        get_enhancer("realesr-general-x4v3", weights=weights["realesr-animevideov3"], device="cpu")
    with pytest.raises(EnhancerUnavailableError, match="not realesrgan-x4plus"):
        get_enhancer("realesrgan-x4plus", weights=weights["realesr-general-x4v3"], device="cpu")
    junk = tmp_path / "junk.pth"
    torch.save({"params": {"something.weight": torch.zeros(3)}}, junk)
    with pytest.raises(EnhancerUnavailableError) as caught:
        get_enhancer("realesrgan-x4plus", weights=junk, device="cpu")
    assert caught.value.code == "ENHANCER_UNAVAILABLE"
    with pytest.raises(EnhancerUnavailableError, match="does not exist"):
        get_enhancer("realesrgan-x4plus", weights=tmp_path / "missing.pth", device="cpu")
    with pytest.raises(EnhancerUnavailableError, match="needs its weights"):
        get_enhancer("realesrgan-x4plus", device="cpu")
