"""Secrets a development install or a test run makes for itself, so none is a public constant.

They are kept in a JSON file created once with mode 0600 (the owner alone can read it) and
reused, so tokens and signed URLs survive a restart and every process of the install (two API
instances, a worker) agrees on them. Production never comes here: it must be given its secrets.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
from functools import lru_cache
from pathlib import Path

MIN_SECRET_BYTES = 32
SECRET_NAMES = ("jwt_secret", "url_signing_secret")


def generated_secrets(path: Path) -> dict[str, str]:
    """The secrets kept in `path`, created on first use."""
    return _file_secrets(path.resolve())


@lru_cache(maxsize=8)
def _file_secrets(path: Path) -> dict[str, str]:
    if not path.exists():
        _create(path)
    stored = json.loads(path.read_text())
    if not isinstance(stored, dict) or not all(isinstance(stored.get(name), str) for name in SECRET_NAMES):
        raise ValueError(f"{path} does not hold the development secrets; delete it to make new ones")
    return {name: stored[name] for name in SECRET_NAMES}


def _new_secrets() -> dict[str, str]:
    return {name: secrets.token_urlsafe(48) for name in SECRET_NAMES}


def _create(path: Path) -> None:
    """Write the file whole under a temporary name, then link it into place: a process starting at
    the same moment either finds no file or a complete one, and only one set of secrets wins."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        json.dump(_new_secrets(), handle)
    try:
        os.link(temporary, path)
    except FileExistsError:
        pass  # another process made them first; theirs are the ones kept
    finally:
        with contextlib.suppress(FileNotFoundError):
            temporary.unlink()
