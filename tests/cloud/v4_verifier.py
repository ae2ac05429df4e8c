"""An independent verifier of GCS V4 signed URLs (GOOG4-RSA-SHA256), written from the spec.

The emulator accepts any signature, so the tests check our URLs with this instead: it rebuilds
the canonical request and the string to sign from the URL and the request a client would send,
and checks the RSA signature with the service account's public key.
https://cloud.google.com/storage/docs/authentication/signatures
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qsl, quote, urlsplit

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey

ALGORITHM = "GOOG4-RSA-SHA256"


class SignatureRejected(Exception):
    pass


def verify_v4_url(
    url: str,
    *,
    method: str,
    headers: dict[str, str],
    public_key: RSAPublicKey,
    now: datetime | None = None,
) -> dict[str, str]:
    """Raise `SignatureRejected` unless a request (method, url, headers) carries a valid
    signature that has not expired; returns the URL's query parameters."""
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query, keep_blank_values=True))
    signature_hex = query.pop("X-Goog-Signature", None)
    if signature_hex is None or query.get("X-Goog-Algorithm") != ALGORITHM:
        raise SignatureRejected("not a V4 signed URL")
    _check_time(query, now or datetime.now(UTC))
    request_headers = {k.lower(): v for k, v in headers.items()}
    request_headers.setdefault("host", parts.netloc)
    signed = query["X-Goog-SignedHeaders"].split(";")
    missing = [name for name in signed if name not in request_headers]
    if missing:
        raise SignatureRejected(f"signed headers not sent: {missing}")
    canonical = _canonical_request(method, parts.path, query, {n: request_headers[n] for n in signed})
    _check_signature(query, canonical, signature_hex, public_key)
    return query


def _check_time(query: dict[str, str], now: datetime) -> None:
    issued = datetime.strptime(query["X-Goog-Date"], "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    expires = issued + timedelta(seconds=int(query["X-Goog-Expires"]))
    if now < issued - timedelta(minutes=5) or now >= expires:
        raise SignatureRejected("expired or not yet valid")


def _canonical_request(method: str, path: str, query: dict[str, str], headers: dict[str, str]) -> str:
    canonical_query = "&".join(f"{quote(k, safe='')}={quote(v, safe='')}" for k, v in sorted(query.items()))
    canonical_headers = "".join(
        f"{name}:{' '.join(value.split())}\n" for name, value in sorted(headers.items())
    )
    payload = headers.get("x-goog-content-sha256", "UNSIGNED-PAYLOAD")
    return "\n".join([method, path, canonical_query, canonical_headers, ";".join(sorted(headers)), payload])


def _check_signature(query: dict[str, str], canonical: str, signature_hex: str, key: RSAPublicKey) -> None:
    scope = query["X-Goog-Credential"].split("/", 1)[1]
    string_to_sign = "\n".join(
        [ALGORITHM, query["X-Goog-Date"], scope, hashlib.sha256(canonical.encode()).hexdigest()]
    )
    try:
        key.verify(bytes.fromhex(signature_hex), string_to_sign.encode(), padding.PKCS1v15(), hashes.SHA256())
    except (InvalidSignature, ValueError) as exc:
        raise SignatureRejected("signature does not match") from exc
