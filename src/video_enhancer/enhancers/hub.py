"""Stream-DiffVSR's published checkpoint folder and RAFT-large: fetched, verified, then kept.

The checkpoint is a model-hub repository (``STREAM_DIFFVSR_HUB_ID``), fetched over the hub's
plain HTTP interface: ``GET {endpoint}/api/models/{id}/revision/{revision}?blobs=true`` lists
the files of the commit the revision names, with each file's digest (SHA-256 for large files,
the git blob id for the others), and ``GET {endpoint}/{id}/resolve/{commit}/{path}`` serves a
file. Every file is checked against its digest, all of them from the one commit, into a
``.part`` folder renamed only once every file matched: a failed or tampered download never
leaves a folder the worker would load. RAFT-large is torchvision's published file, checked
against the digest prefix torchvision publishes in its name.

No torch here: the `models download` command runs on machines without it. Where the model
package is installed, the command also loads what it fetched (tensor by tensor).
"""

from __future__ import annotations

import hashlib
import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

from video_enhancer.enhancers.weights import (
    CHUNK_BYTES,
    DOWNLOAD_TIMEOUT_SECONDS,
    WeightsChecksumError,
    WeightsDownloadError,
    stream_to,
)

HUB_ENDPOINT = "https://huggingface.co"
STREAM_DIFFVSR_HUB_ID = "Jamichsu/Stream-DiffVSR"
STREAM_DIFFVSR_FOLDER = "stream-diffvsr"
# What the loader reads (stream_diffvsr.loading.SUBFOLDERS); the rest of the repository is not needed.
_CHECKPOINT_PARTS = ("unet/", "controlnet/", "vae/", "scheduler/", "text_encoder/", "tokenizer/")
_CHECKPOINT_FILES = ("model_index.json",)


@dataclass(frozen=True, slots=True)
class PublishedFile:
    name: str
    filename: str
    url: str
    sha256_prefix: str
    """The digest prefix the publisher puts in the file name (torchvision's convention)."""
    source: str
    licence: str


RAFT_LARGE = PublishedFile(
    "raft-large",
    "raft_large_C_T_SKHT_V2-ff5fadd5.pth",
    "https://download.pytorch.org/models/raft_large_C_T_SKHT_V2-ff5fadd5.pth",
    "ff5fadd5",
    "torchvision's model zoo (Raft_Large_Weights.C_T_SKHT_V2)",
    "BSD-3-Clause",
)


@dataclass(frozen=True, slots=True)
class HubFile:
    path: str
    size: int
    sha256: str | None
    """SHA-256 of a large (LFS) file; None for a small file, checked by its git blob id."""
    blob_id: str | None


@dataclass(frozen=True, slots=True)
class HubSnapshot:
    repo_id: str
    commit: str
    files: tuple[HubFile, ...]


def list_snapshot(repo_id: str, revision: str = "main", endpoint: str = HUB_ENDPOINT) -> HubSnapshot:
    """The checkpoint files of ``repo_id`` at ``revision``, with their digests, from one commit."""
    url = f"{endpoint.rstrip('/')}/api/models/{repo_id}/revision/{revision}"
    try:
        response = requests.get(url, params={"blobs": "true"}, timeout=DOWNLOAD_TIMEOUT_SECONDS)
        response.raise_for_status()
        listing = response.json()
    except (requests.RequestException, ValueError) as exc:
        raise WeightsDownloadError(
            f"Could not list {repo_id}@{revision} on {endpoint}.", detail=str(exc)
        ) from exc
    files = tuple(
        _hub_file(sibling) for sibling in listing.get("siblings", []) if _wanted(sibling.get("rfilename", ""))
    )
    if not any(f.path == "model_index.json" for f in files) or not listing.get("sha"):
        raise WeightsDownloadError(f"{repo_id}@{revision} is not a checkpoint folder (no model_index.json).")
    return HubSnapshot(repo_id, str(listing["sha"]), files)


def download_snapshot(snapshot: HubSnapshot, target: Path, endpoint: str = HUB_ENDPOINT) -> Path:
    """Fetch and verify every file of ``snapshot`` into ``target`` (replaced only on success)."""
    partial = target.with_name(target.name + ".part")
    shutil.rmtree(partial, ignore_errors=True)
    try:
        for file in snapshot.files:
            url = f"{endpoint.rstrip('/')}/{snapshot.repo_id}/resolve/{snapshot.commit}/{file.path}"
            path = partial / file.path
            path.parent.mkdir(parents=True, exist_ok=True)
            sha256, blob_id = _stream_to(url, path)
            _check(file, sha256, blob_id)
        shutil.rmtree(target, ignore_errors=True)
        partial.replace(target)
    finally:
        shutil.rmtree(partial, ignore_errors=True)
    return target


def download_file(
    published: PublishedFile, folder: Path, *, url: str | None = None, sha256: str | None = None
) -> Path:
    """Fetch ``published`` into ``folder``: its SHA-256 must start with the published prefix, or
    equal ``sha256`` when one is given (a mirror's copy whose full digest is known)."""
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / published.filename
    partial = target.with_name(target.name + ".part")
    try:
        digest, _ = _stream_to(url or published.url, partial)
        matches = digest == sha256.lower() if sha256 else digest.startswith(published.sha256_prefix)
        if not matches:
            raise WeightsChecksumError(
                f"{published.filename} does not match its published checksum; nothing was kept.",
                detail=f"expected sha256 {sha256 or published.sha256_prefix + '...'}, got {digest}",
            )
        partial.replace(target)
    finally:
        partial.unlink(missing_ok=True)
    return target


def _wanted(path: str) -> bool:
    return path in _CHECKPOINT_FILES or path.startswith(_CHECKPOINT_PARTS)


def _hub_file(sibling: Mapping[str, Any]) -> HubFile:
    lfs = sibling.get("lfs") or {}
    size = int(lfs.get("size", sibling.get("size", -1)))
    return HubFile(str(sibling["rfilename"]), size, lfs.get("sha256"), sibling.get("blobId"))


def _check(file: HubFile, sha256: str, blob_id: str) -> None:
    expected, got = (file.sha256, sha256) if file.sha256 else (file.blob_id, blob_id)
    if expected is None or expected != got:
        raise WeightsChecksumError(
            f"{file.path} does not match the digest the hub lists for it; nothing was kept.",
            detail=f"expected {expected}, got {got}",
        )


def _stream_to(url: str, path: Path) -> tuple[str, str]:
    """Download ``url`` to ``path``; returns its SHA-256 and its git blob id (SHA-1 of a header
    and the bytes), the two digests the hub lists; blob ids only matter for small files."""
    sha256 = stream_to(url, path)
    size = path.stat().st_size
    if size > CHUNK_BYTES:
        return sha256, ""
    blob = hashlib.sha1(f"blob {size}\0".encode() + path.read_bytes(), usedforsecurity=False)
    return sha256, blob.hexdigest()
