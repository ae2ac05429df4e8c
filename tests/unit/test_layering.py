"""The arrows run one way: infrastructure (storage, queue) and libraries (media, enhancers) never
import a domain package; the domain calls them and they report back."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import video_enhancer

PACKAGE = Path(video_enhancer.__file__).parent
# `jobs` and `billing` are left out: the queue moves jobs through their lifecycle, which lives there.
DOMAINS = ("videos", "users", "auth", "admin")
LOWER_LAYERS = ("storage", "queue", "media", "enhancers")


def _imported_modules(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
        elif isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
    return names


@pytest.mark.parametrize("layer", LOWER_LAYERS)
def test_lower_layers_do_not_import_the_domain(layer: str) -> None:
    offending = {
        f"{path.relative_to(PACKAGE)} imports {module}"
        for path in sorted((PACKAGE / layer).rglob("*.py"))
        for module in _imported_modules(path)
        if any(module.startswith(f"video_enhancer.{domain}") for domain in DOMAINS)
    }
    assert offending == set()


def test_every_storage_backend_is_found() -> None:
    # The scan above would pass vacuously if the package moved.
    assert {"base.py", "keys.py", "local.py", "gcs.py", "memory.py"} <= {
        path.name for path in (PACKAGE / "storage").glob("*.py")
    }
