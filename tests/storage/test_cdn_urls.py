"""Cloud CDN signed download URLs (`VE_DOWNLOAD_URLS=cdn`), checked against gcloud's signer."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from video_enhancer.config import Settings
from video_enhancer.storage.cdn import CdnDownloads, sign_url
from video_enhancer.storage.factory import make_storage

KEY = "nZtRohdNF9m3cKM24IcK4w=="  # 128 bits, base64url, as `gcloud compute sign-url` takes it
# Made by `gcloud compute sign-url https://cdn.example.com/users/a/b.mp4 --key-name=my-key
# --key-file=<KEY> --expires-in=...`: an independent implementation of the documented format.
GCLOUD_VECTOR = (
    "https://cdn.example.com/users/a/b.mp4?Expires=1796325076&KeyName=my-key"
    "&Signature=FckYRjl8WLaNJUyd7tbrKA7zF1o="
)


def test_matches_the_reference_vector() -> None:
    assert sign_url("https://cdn.example.com/users/a/b.mp4", "my-key", KEY, 1796325076) == GCLOUD_VECTOR


def test_matches_gcloud_for_a_url_with_a_query(tmp_path: Path) -> None:
    gcloud = shutil.which("gcloud")
    assert gcloud, "gcloud (the Cloud SDK, also used by the Pub/Sub emulator tests) is required"
    key_file = tmp_path / "key"
    key_file.write_text(KEY)
    url = "https://cdn.example.com/users/u%20v/out.mp4?generation=7"
    output = subprocess.run(
        [
            gcloud,
            "compute",
            "sign-url",
            url,
            "--key-name=edge-2026",
            f"--key-file={key_file}",
            "--expires-in=2h",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    theirs = output.stdout.split("signedUrl:", 1)[1].strip()
    expires = int(parse_qs(urlsplit(theirs).query)["Expires"][0])
    assert sign_url(url, "edge-2026", KEY, expires) == theirs


def test_a_different_key_or_expiry_changes_the_signature() -> None:
    other_key = "AAAAAAAAAAAAAAAAAAAAAA=="
    base = sign_url("https://cdn.example.com/a.mp4", "k", KEY, 100)
    assert sign_url("https://cdn.example.com/a.mp4", "k", other_key, 100) != base
    assert sign_url("https://cdn.example.com/a.mp4", "k", KEY, 101) != base


def test_refuses_bad_keys_and_presigned_urls() -> None:
    with pytest.raises(ValueError, match="128 bits"):
        sign_url("https://cdn.example.com/a.mp4", "k", "c2hvcnQ=", 1)
    with pytest.raises(ValueError, match="Expires"):
        sign_url("https://cdn.example.com/a.mp4?Expires=1", "k", KEY, 1)


def test_downloads_of_enhanced_files_go_through_the_cdn(tmp_path: Path) -> None:
    settings = Settings(
        storage="local",
        storage_root=tmp_path,
        download_urls="cdn",
        cdn_base_url="https://cdn.example.com/",
        cdn_key_name="edge",
        cdn_key=KEY,
    )
    storage = make_storage(settings)
    assert isinstance(storage, CdnDownloads)
    signed = storage.signed_download_url("enhanced", "users/u/videos/v/output.mp4", ttl_seconds=600)
    parts = urlsplit(signed.url)
    assert (parts.scheme, parts.netloc, parts.path) == (
        "https",
        "cdn.example.com",
        "/users/u/videos/v/output.mp4",
    )
    query = parse_qs(parts.query)
    assert query["KeyName"] == ["edge"]
    assert int(query["Expires"][0]) == int(signed.expires_at.timestamp())
    assert signed.url == sign_url(
        "https://cdn.example.com/users/u/videos/v/output.mp4", "edge", KEY, int(signed.expires_at.timestamp())
    )
    raw = storage.signed_download_url("raw", "users/u/videos/v/source", ttl_seconds=600)
    assert "cdn.example.com" not in raw.url


def test_cdn_mode_requires_its_settings() -> None:
    with pytest.raises(ValueError, match="VE_CDN_KEY"):
        Settings(download_urls="cdn", cdn_base_url="https://cdn.example.com")
