"""Whether a failed login takes as long for an unknown email as for a known one (bcrypt cost 12).

Runs the real API in-process on a scratch SQLite database, registers one user, then times
interleaved failed logins (a wrong password for the known email, any password for an unknown
one). Prints the fastest and the median of each series and their ratio: close to 1 means
response time does not reveal which emails exist. Without the dummy check an unknown email
answers in milliseconds against about 200 ms for a known one.

    .venv/bin/python benchmarks/login_timing.py              # 15 pairs at cost 12
    .venv/bin/python benchmarks/login_timing.py --rounds 10 --pairs 30 --json
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

from fastapi.testclient import TestClient

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from conftest import run_migrations  # noqa: E402
from video_enhancer.app import create_app  # noqa: E402
from video_enhancer.config import Settings  # noqa: E402

PASSWORD = "a long enough password"


def _failed_login_seconds(client: TestClient, email: str) -> float:
    started = time.perf_counter()
    response = client.post("/auth/login", json={"email": email, "password": "wrong password"})
    elapsed = time.perf_counter() - started
    if response.status_code != 401:
        raise RuntimeError(f"expected 401, got {response.status_code}: {response.text}")
    return elapsed


def measure(rounds: int, pairs: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as workdir:
        url = f"sqlite:///{Path(workdir) / 'bench.db'}"
        run_migrations(url)
        settings = Settings(
            env="test",
            database_url=url,
            storage_root=Path(workdir) / "storage",
            bcrypt_rounds=rounds,
            login_rate_limit_attempts=0,
            log_level="WARNING",
        )
        with TestClient(create_app(settings)) as client:
            client.post("/auth/register", json={"email": "known@example.com", "password": PASSWORD})
            _failed_login_seconds(client, "warm-up@example.com")
            known, unknown = [], []
            for _ in range(pairs):  # interleaved, so load from other processes hits both alike
                known.append(_failed_login_seconds(client, "known@example.com"))
                unknown.append(_failed_login_seconds(client, "unknown@example.com"))
    return {
        "bcrypt_rounds": rounds,
        "pairs": pairs,
        "known_min_ms": round(min(known) * 1000, 1),
        "unknown_min_ms": round(min(unknown) * 1000, 1),
        "known_median_ms": round(statistics.median(known) * 1000, 1),
        "unknown_median_ms": round(statistics.median(unknown) * 1000, 1),
        "ratio_of_minimums": round(min(unknown) / min(known), 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=12, help="bcrypt cost (the production default: 12)")
    parser.add_argument("--pairs", type=int, default=15)
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()
    figures = measure(args.rounds, args.pairs)
    if args.json:
        print(json.dumps(figures))
        return
    print(
        f"failed login at bcrypt cost {figures['bcrypt_rounds']} over {figures['pairs']} pairs: "
        f"known email min {figures['known_min_ms']} ms (median {figures['known_median_ms']}), "
        f"unknown email min {figures['unknown_min_ms']} ms (median {figures['unknown_median_ms']}), "
        f"ratio {figures['ratio_of_minimums']}"
    )


if __name__ == "__main__":
    main()
