"""Download URLs signed for Cloud CDN, in front of the enhanced bucket (`VE_DOWNLOAD_URLS=cdn`).

Cloud CDN's signed URL format: the URL to serve, then `Expires=<Unix seconds>&KeyName=<name>`,
then `&Signature=<base64url of HMAC-SHA1 over everything before it>`, keyed with the 128-bit key
(stored base64url-encoded) that was added to the backend bucket. The CDN checks the signature and
the expiry at the edge, so downloads never reach the API or the bucket's own signed URLs.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

from video_enhancer.storage.base import Area, SignedUrl, Storage

_RESERVED = ("Expires=", "KeyName=", "Signature=")


def decode_key(key: str) -> bytes:
    raw = base64.urlsafe_b64decode(key.strip() + "=" * (-len(key.strip()) % 4))
    if len(raw) != 16:
        raise ValueError("a Cloud CDN signing key is 128 bits (16 bytes), base64url-encoded")
    return raw


def sign_url(url: str, key_name: str, key: str, expires_at: int) -> str:
    """Cloud CDN's signed URL for `url`, valid until `expires_at` (Unix seconds)."""
    if any(part in url for part in _RESERVED):
        raise ValueError("the URL must not carry Expires, KeyName or Signature already")
    separator = "&" if "?" in url else "?"
    to_sign = f"{url}{separator}Expires={expires_at}&KeyName={key_name}"
    digest = hmac.new(decode_key(key), to_sign.encode(), hashlib.sha1).digest()
    return f"{to_sign}&Signature={base64.urlsafe_b64encode(digest).decode()}"


class CdnDownloads:
    """A Storage whose enhanced-area download URLs are Cloud CDN signed URLs; the rest delegates."""

    def __init__(self, storage: Storage, base_url: str, key_name: str, key: str) -> None:
        decode_key(key)  # refuse a malformed key at start-up, not at the first download
        self._storage = storage
        self._base_url = base_url.rstrip("/")
        self._key_name = key_name
        self._key = key
        self.name = storage.name
        self.signs_offline = storage.signs_offline  # raw-area URLs are still the storage's

    def signed_download_url(
        self, area: Area, key: str, *, ttl_seconds: int, filename: str | None = None
    ) -> SignedUrl:
        if area != "enhanced":
            return self._storage.signed_download_url(area, key, ttl_seconds=ttl_seconds, filename=filename)
        expires = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=ttl_seconds)
        url = sign_url(f"{self._base_url}/{quote(key)}", self._key_name, self._key, int(expires.timestamp()))
        return SignedUrl(url=url, method="GET", expires_at=expires, headers={})

    def put_file(self, area: Area, key: str, source: Path, content_type: str | None = None) -> None:
        self._storage.put_file(area, key, source, content_type)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._storage, name)
