"""`models list` and `models download NAME [--dir DIR]`: published enhancer weights, checked.

`download` fetches the file into DIR (default `VE_MODELS_DIR`), verifies its SHA-256 and prints
the settings line that makes a worker load it.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

from video_enhancer.enhancers.weights import PUBLISHED_WEIGHTS, download_weights, published_weights
from video_enhancer.errors import ServiceError


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("models", help="list and download published enhancer weights")
    commands = parser.add_subparsers(dest="models_command", required=True)
    listing = commands.add_parser("list", help="the enhancers with published weights files")
    listing.set_defaults(handler=list_command)
    download = commands.add_parser("download", help="fetch a weights file and check its checksum")
    download.add_argument("name", choices=list(PUBLISHED_WEIGHTS))
    download.add_argument("--dir", help="where to put it (default: VE_MODELS_DIR)")
    download.add_argument("--url", help="fetch from this address instead (a mirror)")
    download.add_argument(
        "--sha256", help="expected digest instead of the recorded one (a mirror's re-packed file)"
    )
    download.set_defaults(handler=download_command)


def list_command(args: argparse.Namespace) -> int:
    for weights in PUBLISHED_WEIGHTS.values():
        print(
            f"{weights.enhancer}: {weights.filename}, {weights.size_bytes} bytes, from {weights.source} "
            f"({weights.licence}); sha256 {weights.sha256}"
        )
    return 0


def download_command(args: argparse.Namespace) -> int:
    weights = published_weights(args.name)
    if args.sha256:
        weights = replace(weights, sha256=args.sha256.lower())
    folder = Path(args.dir) if args.dir else _default_dir()
    try:
        path = download_weights(weights, folder, url=args.url)
    except ServiceError as exc:
        print(f"error: {exc.code}: {exc}", file=sys.stderr)
        return 1
    print(f"{path}: sha256 {weights.sha256} verified", file=sys.stderr)
    print(f"VE_ENHANCER={weights.enhancer} VE_MODELS_DIR={path.parent.resolve()}")
    return 0


def _default_dir() -> Path:
    from video_enhancer.config import get_settings

    return get_settings().models_dir
