from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from video_enhancer.enhancers import Enhancer, EnhancerError, EnhancerSession, get_enhancer, get_enhancer_spec
from video_enhancer.enhancers.lanczos import LanczosEnhancer
from video_enhancer.enhancers.registry import UnknownEnhancerError


def _edges(height: int = 36, width: int = 64) -> np.ndarray:
    """Vertical stripes: sharpness shows as contrast at their edges."""
    image = np.full((height, width, 3), 90, np.uint8)  # mid levels: overshoot is not clipped
    image[:, ::8] = 170
    image[:, 1::8] = 170
    return image


def test_registry_builds_the_classical_fallback() -> None:
    enhancer = get_enhancer("lanczos")
    assert isinstance(enhancer, LanczosEnhancer) and isinstance(enhancer, Enhancer)
    assert enhancer.name == "lanczos" and enhancer.native_scale is None
    assert get_enhancer_spec("lanczos").classical
    assert not get_enhancer_spec("stream-diffvsr").classical


def test_unknown_enhancer_name_is_refused() -> None:
    with pytest.raises(UnknownEnhancerError) as caught:
        get_enhancer("bicubic-deluxe")
    assert caught.value.code == "UNKNOWN_ENHANCER"


def test_upscales_to_any_requested_size() -> None:
    session = LanczosEnhancer().open_session((64, 36), (250, 142))
    assert isinstance(session, EnhancerSession)
    out = session.enhance(_edges())
    assert out.shape == (142, 250, 3) and out.dtype == np.uint8


def test_sharpening_adds_edge_contrast_over_plain_lanczos() -> None:
    frame = _edges()
    sharpened = LanczosEnhancer().open_session((64, 36), (256, 144)).enhance(frame).astype(float)
    plain = np.asarray(Image.fromarray(frame).resize((256, 144), Image.Resampling.LANCZOS)).astype(float)
    assert np.abs(np.diff(sharpened, axis=1)).mean() > 1.05 * np.abs(np.diff(plain, axis=1)).mean()
    # Mild: the picture keeps its overall brightness.
    assert abs(sharpened.mean() - plain.mean()) < 3


def test_flat_picture_stays_flat() -> None:
    frame = np.full((36, 64, 3), 117, np.uint8)
    out = LanczosEnhancer().open_session((64, 36), (128, 72)).enhance(frame)
    assert np.all(out == 117)


def test_stateless_session_and_bad_input() -> None:
    enhancer = LanczosEnhancer()
    session = enhancer.open_session((64, 36), (128, 72))
    assert session.state() == b""
    with pytest.raises(EnhancerError):
        session.enhance(np.zeros((10, 10, 3), np.uint8))
    with pytest.raises(EnhancerError):
        enhancer.open_session((64, 36), (128, 72), state=b"not-empty")
