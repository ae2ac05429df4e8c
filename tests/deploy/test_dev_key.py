"""`deploy/dev_setup.py key PATH`: an offline service-account key the emulators accept."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from google.oauth2 import service_account

ROOT = Path(__file__).resolve().parents[2]


def test_the_key_is_a_service_account_key_that_signs(tmp_path: Path) -> None:
    path = tmp_path / "secrets" / "key.json"
    subprocess.run([sys.executable, str(ROOT / "deploy" / "dev_setup.py"), "key", str(path)], check=True)
    credentials = service_account.Credentials.from_service_account_file(str(path))
    assert credentials.service_account_email.endswith(".iam.gserviceaccount.com")
    assert len(credentials.sign_bytes(b"GET\n/bucket/object")) == 256  # RSA-2048, as V4 signing uses
    before = path.read_text()
    subprocess.run([sys.executable, str(ROOT / "deploy" / "dev_setup.py"), "key", str(path)], check=True)
    assert path.read_text() == before, "an existing key is kept"
    assert json.loads(before)["type"] == "service_account"
