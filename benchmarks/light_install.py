"""Size of a fresh virtualenv for `make run` on a machine without a GPU (no `model` extra).

Creates a virtualenv in a temporary folder, installs this checkout without extras (what
`make run` installs when there is no NVIDIA driver and no VE_MODEL_* setting), checks that
neither torch nor diffusers came with it, that the API imports and the settings pick the Lanczos
enhancer, then prints the folder's size. For comparison, the `dev` + `model` install of
`make test` is about 6 GB.

    python3 benchmarks/light_install.py            # needs the package index (or a warm pip cache)
    python3 benchmarks/light_install.py --json
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CHECK = (
    "import importlib.util, video_enhancer.app, video_enhancer.worker.process;"
    "from video_enhancer.config import Settings;"
    "missing = [m for m in ('torch', 'diffusers') if importlib.util.find_spec(m) is None];"
    "print(len(missing), Settings(_env_file=None).resolved_enhancer)"
)


def folder_bytes(path: Path) -> int:
    return sum(f.lstat().st_size for f in path.rglob("*") if f.is_file() or f.is_symlink())


def build(venv: Path) -> float:
    started = time.monotonic()
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    subprocess.run([str(venv / "bin" / "pip"), "install", "-q", str(ROOT)], check=True)
    return time.monotonic() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="ve-light-") as workdir:
        venv = Path(workdir) / "venv"
        seconds = build(venv)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("VE_", "PYTHONPATH"))}
        check = subprocess.run(
            [str(venv / "bin" / "python"), "-c", CHECK], env=env, cwd=workdir, capture_output=True, text=True
        )
        if check.returncode != 0:
            raise SystemExit(f"the light install does not import:\n{check.stderr}")
        missing, enhancer = check.stdout.split()
        if missing != "2" or enhancer != "lanczos":
            raise SystemExit(f"expected no torch or diffusers and lanczos, got {check.stdout!r}")
        figures = {"venv_mib": round(folder_bytes(venv) / 2**20), "install_seconds": round(seconds)}
    if args.json:
        print(json.dumps(figures))
    else:
        print(
            f"fresh .venv without the model extra: {figures['venv_mib']} MiB "
            f"(installed in {figures['install_seconds']} s; no torch, no diffusers; enhancer lanczos)"
        )


if __name__ == "__main__":
    main()
