"""A TypeScript client generated from the app's OpenAPI document compiles with `tsc --strict`.

`clients/typescript` pins openapi-typescript, openapi-fetch and TypeScript (package-lock.json);
`npm ci` installs them there on first use. The document is generated from the app and used as
it is: no hand edits. `usage.ts` calls every operation through the generated types and holds
`@ts-expect-error` lines that fail the build if a snake_case name, an unknown enum value or a
generated operationId type-checks.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from video_enhancer.app import create_app
from video_enhancer.config import Settings

CLIENT_DIR = Path(__file__).parents[2] / "clients" / "typescript"
BIN = CLIENT_DIR / "node_modules" / ".bin"
TSC_FLAGS = ["--strict", "--noEmit", "--target", "es2022", "--module", "esnext"]
TSC_FLAGS += ["--moduleResolution", "bundler", "--lib", "es2022,dom", "--skipLibCheck"]


def _run(argv: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, cwd=cwd, capture_output=True, text=True, timeout=300, check=False)


def _install_tools() -> None:
    lock = CLIENT_DIR / "package-lock.json"
    installed = CLIENT_DIR / "node_modules" / ".package-lock.json"
    if installed.exists() and installed.stat().st_mtime >= lock.stat().st_mtime:
        return
    npm = shutil.which("npm")
    if npm is None:
        pytest.skip("npm is not installed (Node.js 18 or later is needed to check the TypeScript client)")
    result = _run([npm, "ci", "--no-audit", "--no-fund"], CLIENT_DIR)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.slow
def test_generated_typescript_client_compiles_strictly(tmp_path: Path) -> None:
    _install_tools()
    settings = Settings(env="test", database_url=f"sqlite:///{tmp_path}/db.sqlite", storage_root=tmp_path)
    (tmp_path / "openapi.json").write_text(json.dumps(create_app(settings).openapi()))
    shutil.copy(CLIENT_DIR / "usage.ts", tmp_path / "usage.ts")
    (tmp_path / "node_modules").symlink_to(CLIENT_DIR / "node_modules", target_is_directory=True)

    # Response fields with defaults are already `required` in the document; a request field with a
    # default (`resumable`) must stay optional, which openapi-typescript's default would undo.
    command = [
        str(BIN / "openapi-typescript"),
        "openapi.json",
        "-o",
        "schema.ts",
        "--default-non-nullable=false",
    ]
    generated = _run(command, tmp_path)
    assert generated.returncode == 0, generated.stdout + generated.stderr
    assert "operations" in (tmp_path / "schema.ts").read_text()

    # --skipLibCheck skips the .d.ts files of TypeScript's own libraries; schema.ts is checked.
    compiled = _run([str(BIN / "tsc"), *TSC_FLAGS, "usage.ts"], tmp_path)
    assert compiled.returncode == 0, compiled.stdout + compiled.stderr
