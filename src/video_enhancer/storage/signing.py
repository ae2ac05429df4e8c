"""HMAC-SHA256 signed, expiring URLs for the storage endpoints the API serves itself.

The signature covers every field the endpoint acts on (method, area, key, expiry, and for uploads
the content type and exact size), so changing any of them, or using a download URL to upload,
invalidates it. Expiry is checked only after the signature, so a forged expiry reads as tampering.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from datetime import UTC, datetime

from video_enhancer.errors import Forbidden


class SignatureInvalid(Forbidden):
    default_code = "SIGNATURE_INVALID"
    default_message = "The URL signature is invalid."


class UrlExpired(Forbidden):
    default_code = "URL_EXPIRED"
    default_message = "The URL has expired; request a new one."


class UrlSigner:
    def __init__(self, secret: str) -> None:
        if not secret:
            raise ValueError("a URL signing secret is required")
        self._secret = secret.encode()

    def sign(self, fields: Mapping[str, str]) -> str:
        return hmac.new(self._secret, _canonical(fields), hashlib.sha256).hexdigest()

    def verify(self, fields: Mapping[str, str], signature: str, now: datetime | None = None) -> None:
        """Raise `SignatureInvalid` or `UrlExpired`; `fields` must hold an integer `expires`."""
        # Bytes, not str: compare_digest refuses non-ASCII strings, and a URL may carry anything.
        if not hmac.compare_digest(self.sign(fields).encode(), signature.encode("utf-8", "replace")):
            raise SignatureInvalid()
        expires = int(fields["expires"])
        if (now or datetime.now(UTC)).timestamp() > expires:
            raise UrlExpired()


def _canonical(fields: Mapping[str, str]) -> bytes:
    # Newline-separated, sorted key=value pairs; keys and values never contain a newline
    # (keys are validated, values are numbers or validated names), so the encoding is unambiguous.
    for name, value in fields.items():
        if "\n" in name or "\n" in value or "=" in name:
            raise SignatureInvalid()
    return "\n".join(f"{name}={fields[name]}" for name in sorted(fields)).encode()
