"""Published weight files of the enhancers that load one file, and how to fetch them safely.

Every file is checked against its SHA-256 before it is kept: a ``.pth`` file is a pickle, and
spandrel's restricted unpickler is the second line of defence, not the first. The download
streams to a ``.part`` file beside the target and renames it only once the digest matches,
so a failed or wrong download never leaves a file the worker would load.

No torch here: the `models download` command runs on machines without it.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import requests

from video_enhancer.enhancers.base import EnhancerError

CHUNK_BYTES = 1 << 20
DOWNLOAD_TIMEOUT_SECONDS = 60.0
_RELEASES = "https://github.com/xinntao/Real-ESRGAN/releases/download"


class WeightsDownloadError(EnhancerError):
    default_code = "WEIGHTS_DOWNLOAD_FAILED"


class WeightsChecksumError(WeightsDownloadError):
    default_code = "WEIGHTS_CHECKSUM_MISMATCH"


@dataclass(frozen=True, slots=True)
class PublishedWeights:
    enhancer: str
    filename: str
    url: str
    sha256: str
    """The file's digest as published by independent catalogues that pin it (docs/enhancers.md)."""
    size_bytes: int
    source: str
    licence: str


PUBLISHED_WEIGHTS: dict[str, PublishedWeights] = {
    weights.enhancer: weights
    for weights in (
        PublishedWeights(
            "realesrgan-x4plus",
            "RealESRGAN_x4plus.pth",
            f"{_RELEASES}/v0.1.0/RealESRGAN_x4plus.pth",
            "4fa0d38905f75ac06eb49a7951b426670021be3018265fd191d2125df9d682f1",
            67_040_989,
            "xinntao/Real-ESRGAN release v0.1.0",
            "BSD-3-Clause",
        ),
        PublishedWeights(
            "realesr-general-x4v3",
            "realesr-general-x4v3.pth",
            f"{_RELEASES}/v0.2.5.0/realesr-general-x4v3.pth",
            "8dc7edb9ac80ccdc30c3a5dca6616509367f05fbc184ad95b731f05bece96292",
            4_885_111,
            "xinntao/Real-ESRGAN release v0.2.5.0",
            "BSD-3-Clause",
        ),
        PublishedWeights(
            "realesr-animevideov3",
            "realesr-animevideov3.pth",
            f"{_RELEASES}/v0.2.5.0/realesr-animevideov3.pth",
            "b8a8376811077954d82ca3fcf476f1ac3da3e8a68a4f4d71363008000a18b75d",
            2_504_012,
            "xinntao/Real-ESRGAN release v0.2.5.0",
            "BSD-3-Clause",
        ),
    )
}


def published_weights(enhancer: str) -> PublishedWeights:
    try:
        return PUBLISHED_WEIGHTS[enhancer]
    except KeyError:
        raise WeightsDownloadError(
            f"No published weights file for {enhancer!r}; choose one of {', '.join(PUBLISHED_WEIGHTS)}."
        ) from None


def weights_path(folder: Path, enhancer: str) -> Path:
    """Where the worker looks for ``enhancer``'s file: its published name inside ``folder``."""
    return folder / published_weights(enhancer).filename


def download_weights(weights: PublishedWeights, folder: Path, *, url: str | None = None) -> Path:
    """Fetch ``weights`` into ``folder`` (from ``url`` when given, e.g. a mirror); returns the file."""
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / weights.filename
    partial = target.with_name(target.name + ".part")
    try:
        digest = stream_to(url or weights.url, partial)
        if digest != weights.sha256:
            raise WeightsChecksumError(
                f"{weights.filename} does not match its published checksum; nothing was kept.",
                detail=f"expected sha256 {weights.sha256}, got {digest}",
            )
        partial.replace(target)
    finally:
        partial.unlink(missing_ok=True)
    return target


def stream_to(url: str, path: Path) -> str:
    """Download ``url`` to ``path`` in pieces; returns the file's SHA-256."""
    digest = hashlib.sha256()
    try:
        with requests.get(url, stream=True, timeout=DOWNLOAD_TIMEOUT_SECONDS) as response:
            response.raise_for_status()
            with path.open("wb") as file:
                for chunk in response.iter_content(CHUNK_BYTES):
                    digest.update(chunk)
                    file.write(chunk)
    except requests.RequestException as exc:
        raise WeightsDownloadError(f"Could not download {url}.", detail=str(exc)) from exc
    return digest.hexdigest()
