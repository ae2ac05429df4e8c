"""What the worker calls: sign an output for its source and read the manifest back."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from video_enhancer.config import Settings
from video_enhancer.media.sizing import SizePlan
from video_enhancer.provenance.keys import SigningPair, development_pair, load_pair
from video_enhancer.provenance.manifest import EditFacts, sha256_of, sign_video, verify_credentials


def signing_pair(settings: Settings) -> SigningPair | None:
    """None when Content Credentials are off; the configured pair, else the development one."""
    if settings.content_credentials == "off":
        return None
    if settings.content_credentials_cert and settings.content_credentials_key:
        return load_pair(settings.content_credentials_cert, settings.content_credentials_key)
    return development_pair(settings.content_credentials_dev_dir)


def _size(size: tuple[int, int]) -> dict[str, int]:
    # Not a list: the manifest's JSON-to-CBOR step stores a list of small ints as a byte string.
    return {"width": size[0], "height": size[1]}


def credential_output(
    pair: SigningPair, source: Path, output: Path, enhancer: str, sizes: SizePlan
) -> dict[str, Any]:
    """Sign ``output`` as the enhancement of ``source`` and verify it; the facts for the job."""
    digest = sha256_of(source)
    plan = {
        "source": _size(sizes.source),
        "modelInput": _size(sizes.enhancer_input),
        "output": _size(sizes.output),
    }
    sign_video(pair, source, output, EditFacts(enhancer=enhancer, source_sha256=digest, size_plan=plan))
    return verify_credentials(output, digest)
