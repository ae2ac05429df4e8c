"""One-shot set-up of the local cloud stack (docker-compose `setup` service).

1. writes a throwaway service-account key (the emulator ignores signatures, but V4 signing needs
   a key) unless one exists at VE_GCS_CREDENTIALS_FILE;
2. applies the database migrations;
3. creates the buckets and the Pub/Sub topics and subscriptions (idempotent);
4. hands the development secrets (generated on the first start into VE_DEV_SECRETS_FILE, mode
   0600) to the images' unprivileged user, so the API and the worker read the same ones.

`python deploy/dev_setup.py key PATH` writes only the key (offline), for running against the
emulators without docker-compose (docs/cloud.md).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from video_enhancer.config import get_settings
from video_enhancer.queue.pubsub_admin import ensure_pubsub_resources
from video_enhancer.storage.gcs import GcsStorage

IMAGE_USER_ID = 10001  # `app` in the API image, `worker` in the worker image


def write_dev_key(path: Path) -> None:
    if path.exists():
        return
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    info = {
        "type": "service_account",
        "project_id": "video-enhancer-local",
        "private_key_id": "dev",
        "private_key": pem,
        "client_email": "dev@video-enhancer-local.iam.gserviceaccount.com",
        "client_id": "0",
        "token_uri": "https://oauth2.googleapis.com/token",
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(info))


def main() -> int:
    settings = get_settings()  # generates the development secrets on the first start
    os.chown(settings.dev_secrets_file, IMAGE_USER_ID, -1)
    if settings.gcs_credentials_file is not None:
        write_dev_key(settings.gcs_credentials_file)
    subprocess.run(["alembic", "-c", "/app/alembic.ini", "upgrade", "head"], check=True)
    GcsStorage.from_settings(settings).ensure_buckets()
    created = ensure_pubsub_resources(settings)
    print(f"ready: {len(created.topics)} topics, {len(created.subscriptions)} subscriptions")
    return 0


if __name__ == "__main__":
    if sys.argv[1:2] == ["key"] and len(sys.argv) == 3:
        write_dev_key(Path(sys.argv[2]))
        sys.exit(0)
    sys.exit(main())
