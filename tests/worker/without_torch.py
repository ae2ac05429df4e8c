"""Runs the API or the worker in a process where the model packages cannot be imported.

As on a light install (`pip install video-enhancer`, no `[model]` extra): importing torch,
torchvision, diffusers, transformers, accelerate or safetensors raises ModuleNotFoundError,
and every attempt is written, one module a line, to the file named by WITHOUT_TORCH_REPORT
(empty when nothing reached for them, even behind a caught ImportError).

    python without_torch.py api      # create the app, print /readyz's body
    python without_torch.py worker   # `video-enhancer worker` with the VE_* environment
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import json
import os
import sys
from collections.abc import Sequence
from types import ModuleType

BLOCKED = ("torch", "torchvision", "diffusers", "transformers", "accelerate", "safetensors")
REPORT = os.environ["WITHOUT_TORCH_REPORT"]


class ModelPackageBlocker(importlib.abc.MetaPathFinder):
    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname.split(".")[0] in BLOCKED:
            with open(REPORT, "a") as report:
                report.write(fullname + "\n")
            raise ModuleNotFoundError(f"No module named {fullname!r} (blocked)", name=fullname)
        return None


def run_api() -> int:
    from fastapi.testclient import TestClient

    from video_enhancer.app import create_app

    with TestClient(create_app()) as client:
        response = client.get("/readyz")
    print(json.dumps(response.json()))
    return 0 if response.status_code == 200 else 1


def run_worker() -> int:
    from video_enhancer.cli import main

    return main(["worker", "--concurrency", "1"])


if __name__ == "__main__":
    open(REPORT, "w").close()
    sys.meta_path.insert(0, ModelPackageBlocker())
    sys.exit(run_api() if sys.argv[1] == "api" else run_worker())
