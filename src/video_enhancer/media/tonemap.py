"""HDR (PQ / HLG, BT.2020) to SDR (BT.709) tone mapping in numpy.

FFmpeg's ``tonemap`` filter needs ``zscale`` (zimg) to linearise PQ and HLG, and the FFmpeg
bundled with PyAV has no zimg, so the conversion is done here, on purpose and documented:

1. decode the transfer: PQ (SMPTE ST 2084) to absolute nits; HLG (ARIB STD-B67) through its
   inverse OETF and the BT.2100 OOTF for a 1000-nit display (system gamma 1.2);
2. scale so HDR reference white (203 nits, ITU-R BT.2408) becomes SDR white 1.0;
3. convert BT.2020 primaries to BT.709 in linear light;
4. compress highlights above ``KNEE`` with a rational roll-off that approaches 1.0, applied to
   the largest channel so hues do not shift;
5. encode with the BT.1886 display gamma (2.4) so an SDR screen shows the intended light.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import numpy.typing as npt

FloatImage = npt.NDArray[np.float32]

REFERENCE_WHITE_NITS = 203.0
HLG_DISPLAY_PEAK_NITS = 1000.0
HLG_SYSTEM_GAMMA = 1.2
KNEE = 0.75
SDR_GAMMA = 2.4

_PQ_M1 = 2610 / 16384
_PQ_M2 = 2523 / 4096 * 128
_PQ_C1 = 3424 / 4096
_PQ_C2 = 2413 / 4096 * 32
_PQ_C3 = 2392 / 4096 * 32

_HLG_A = 0.17883277
_HLG_B = 1 - 4 * _HLG_A
_HLG_C = 0.5 - _HLG_A * np.log(4 * _HLG_A)

_BT2020_LUMA = np.array([0.2627, 0.6780, 0.0593], dtype=np.float32)
_BT2020_TO_BT709 = np.array(
    [[1.6605, -0.5876, -0.0728], [-0.1246, 1.1329, -0.0083], [-0.0182, -0.1006, 1.1187]], dtype=np.float32
)


def pq_to_nits(signal: FloatImage) -> FloatImage:
    powered = np.power(np.clip(signal, 0.0, 1.0), 1.0 / _PQ_M2)
    linear = np.power(np.maximum(powered - _PQ_C1, 0.0) / (_PQ_C2 - _PQ_C3 * powered), 1.0 / _PQ_M1)
    return (10000.0 * linear).astype(np.float32)


def hlg_to_nits(signal: FloatImage) -> FloatImage:
    signal = np.clip(signal, 0.0, 1.0)
    low = signal * signal / 3.0
    high = (np.exp((signal - _HLG_C) / _HLG_A) + _HLG_B) / 12.0
    scene = np.where(signal <= 0.5, low, high).astype(np.float32)
    luma = np.maximum(scene @ _BT2020_LUMA, 1e-6)[..., None]
    return (HLG_DISPLAY_PEAK_NITS * np.power(luma, HLG_SYSTEM_GAMMA - 1.0) * scene).astype(np.float32)


def compress_highlights(linear: FloatImage) -> FloatImage:
    """Identity below KNEE, then a curve that reaches 1.0 only at infinity, on max(R,G,B)."""
    peak = np.maximum(linear.max(axis=-1, keepdims=True), 1e-6)
    excess = np.maximum(peak - KNEE, 0.0)
    headroom = 1.0 - KNEE
    mapped = np.where(peak > KNEE, KNEE + headroom * excess / (excess + headroom), peak)
    return (linear * (mapped / peak)).astype(np.float32)


def hdr_to_sdr(rgb: FloatImage, transfer: Literal["pq", "hlg"]) -> npt.NDArray[np.uint8]:
    """Non-linear BT.2020 RGB in [0, 1] to BT.709 SDR RGB uint8."""
    nits = pq_to_nits(rgb) if transfer == "pq" else hlg_to_nits(rgb)
    bt709 = ((nits / REFERENCE_WHITE_NITS) @ _BT2020_TO_BT709.T).astype(np.float32)
    mapped = compress_highlights(np.maximum(bt709, 0.0))
    encoded = np.power(np.clip(mapped, 0.0, 1.0), 1.0 / SDR_GAMMA)
    return np.round(encoded * 255.0).astype(np.uint8)
