"""Streaming a large upload through the real server keeps the API's memory flat.

Runs `benchmarks/upload_memory.py` (a subprocess API on SQLite) with 200 MiB: the server's peak
resident memory during the upload may grow by a few MiB at most, whatever the upload's size.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
MAX_GROWTH_MIB = 16


def test_a_200_mib_upload_grows_the_api_by_a_few_mib_at_most() -> None:
    completed = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "upload_memory.py"), "--size-mb", "200", "--json"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr[-2000:]
    figures = json.loads(completed.stdout.strip().splitlines()[-1])
    assert figures["stored_bytes"] == 200 * 1024 * 1024
    assert figures["job_status"] == "QUEUED"
    assert figures["rss_growth_mib"] < MAX_GROWTH_MIB, figures
