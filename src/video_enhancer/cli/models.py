"""`models list` and `models download NAME [--dir DIR]`: published enhancer weights, checked.

`download` fetches the weights into DIR (default `VE_MODELS_DIR`), verifies them and prints the
settings line that makes a worker load them: one file for the Real-ESRGAN models and RAFT-large
(`enhancers.weights`), and for `stream-diffvsr` the checkpoint folder from the model hub plus
RAFT-large (`enhancers.hub`).
"""

from __future__ import annotations

import argparse
import shutil
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

from video_enhancer.enhancers.hub import (
    HUB_ENDPOINT,
    RAFT_LARGE,
    STREAM_DIFFVSR_FOLDER,
    STREAM_DIFFVSR_HUB_ID,
    download_file,
    download_snapshot,
    list_snapshot,
)
from video_enhancer.enhancers.weights import (
    PUBLISHED_WEIGHTS,
    WeightsDownloadError,
    download_weights,
    published_weights,
)
from video_enhancer.errors import ServiceError

STREAM_DIFFVSR = "stream-diffvsr"


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("models", help="list and download published enhancer weights")
    commands = parser.add_subparsers(dest="models_command", required=True)
    listing = commands.add_parser("list", help="the enhancers with published weights")
    listing.set_defaults(handler=list_command)
    download = commands.add_parser("download", help="fetch weights and check their checksums")
    download.add_argument("name", choices=[*PUBLISHED_WEIGHTS, STREAM_DIFFVSR, RAFT_LARGE.name])
    download.add_argument("--dir", help="where to put it (default: VE_MODELS_DIR)")
    download.add_argument(
        "--url", help="fetch from this address instead (a mirror; a hub for stream-diffvsr)"
    )
    download.add_argument(
        "--sha256", help="expected digest instead of the recorded one (a mirror's re-packed file)"
    )
    download.add_argument("--revision", default="main", help="stream-diffvsr: hub branch, tag or commit")
    download.add_argument("--flow-url", help="stream-diffvsr: fetch RAFT-large from this address instead")
    download.add_argument("--flow-sha256", help="stream-diffvsr: the expected digest of that RAFT-large copy")
    download.set_defaults(handler=download_command)


def list_command(args: argparse.Namespace) -> int:
    for weights in PUBLISHED_WEIGHTS.values():
        print(
            f"{weights.enhancer}: {weights.filename}, {weights.size_bytes} bytes, from {weights.source} "
            f"({weights.licence}); sha256 {weights.sha256}"
        )
    print(
        f"{STREAM_DIFFVSR}: the checkpoint folder {STREAM_DIFFVSR_HUB_ID} from {HUB_ENDPOINT} (no licence "
        "published), each file checked against the hub's digests; plus raft-large"
    )
    print(
        f"{RAFT_LARGE.name}: {RAFT_LARGE.filename} from {RAFT_LARGE.source} ({RAFT_LARGE.licence}); "
        f"sha256 {RAFT_LARGE.sha256_prefix}..."
    )
    return 0


def download_command(args: argparse.Namespace) -> int:
    folder = Path(args.dir) if args.dir else _default_dir()
    try:
        if args.name == STREAM_DIFFVSR:
            line = _download_stream_diffvsr(args, folder)
        elif args.name == RAFT_LARGE.name:
            flow = download_file(RAFT_LARGE, folder, url=args.url, sha256=args.sha256)
            _load_check(None, flow)
            line = f"VE_FLOW_WEIGHTS={flow.resolve()}"
        else:
            line = _download_single(args, folder)
    except ServiceError as exc:
        print(f"error: {exc.code}: {exc}", file=sys.stderr)
        return 1
    print(line)
    return 0


def _download_single(args: argparse.Namespace, folder: Path) -> str:
    weights = published_weights(args.name)
    if args.sha256:
        weights = replace(weights, sha256=args.sha256.lower())
    path = download_weights(weights, folder, url=args.url)
    print(f"{path}: sha256 {weights.sha256} verified", file=sys.stderr)
    return f"VE_ENHANCER={weights.enhancer} VE_MODELS_DIR={path.parent.resolve()}"


def _download_stream_diffvsr(args: argparse.Namespace, folder: Path) -> str:
    endpoint = args.url or HUB_ENDPOINT
    snapshot = list_snapshot(STREAM_DIFFVSR_HUB_ID, args.revision, endpoint)
    model = download_snapshot(snapshot, folder / STREAM_DIFFVSR_FOLDER, endpoint)
    print(
        f"{model}: {len(snapshot.files)} files of {snapshot.repo_id} at commit {snapshot.commit} "
        "verified against the hub's digests (pin it with --revision)",
        file=sys.stderr,
    )
    flow = download_file(RAFT_LARGE, folder, url=args.flow_url, sha256=args.flow_sha256)
    try:
        _load_check(model, flow)
    except WeightsDownloadError:
        shutil.rmtree(model, ignore_errors=True)
        raise
    return f"VE_ENHANCER={STREAM_DIFFVSR} VE_MODEL_PATH={model.resolve()} VE_FLOW_WEIGHTS={flow.resolve()}"


def _load_check(model: Path | None, flow: Path | None) -> None:
    """Load what was fetched, tensor by tensor, where the model package is installed."""
    try:
        from stream_diffvsr import RaftFlow, StreamDiffVSRError, load_components
    except ImportError:
        print("the model extra is not installed here: digests checked, tensors not loaded", file=sys.stderr)
        return
    try:
        if model is not None:
            load_components(model)
        if flow is not None:
            RaftFlow.from_weights(flow)
    except StreamDiffVSRError as exc:
        raise WeightsDownloadError("The downloaded weights do not load.", detail=str(exc)) from exc
    print("loaded tensor by tensor: every tensor present and of the expected shape", file=sys.stderr)


def _default_dir() -> Path:
    from video_enhancer.config import get_settings

    return get_settings().models_dir
