"""The C2PA signing pair: from settings, or a development pair generated once.

C2PA validators refuse a self-signed end-entity certificate, so the development pair is a small
chain: a local CA and an ES256 signing certificate it issued. It is untrusted by any validator
(`signingCredential.untrusted`) and is for development and tests only; production must configure
its own (the settings refuse to start otherwise).
"""

from __future__ import annotations

import datetime
import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

_VALID_DAYS = 3650


@dataclass(frozen=True, slots=True)
class SigningPair:
    cert_chain_pem: bytes
    private_key_pem: bytes


def load_pair(cert: Path, key: Path) -> SigningPair:
    return SigningPair(cert.read_bytes(), key.read_bytes())


def development_pair(directory: Path) -> SigningPair:
    """The pair under ``directory`` (``chain.pem``, ``signer.key``), generated on first use.

    Several job threads (and worker processes sharing ``var/``) may ask at once on a fresh
    install: one generates under a lock while the others wait, and each file appears whole
    (written aside, then renamed), so nobody reads a certificate without its key."""
    chain, key = directory / "chain.pem", directory / "signer.key"
    if not (chain.exists() and key.exists()):
        directory.mkdir(parents=True, exist_ok=True)
        with _exclusive(directory / ".generate.lock"):
            if not (chain.exists() and key.exists()):
                pair = _generate()
                _publish(key, pair.private_key_pem)
                _publish(chain, pair.cert_chain_pem)
    return load_pair(chain, key)


@contextmanager
def _exclusive(lock_path: Path) -> Iterator[None]:
    with lock_path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)  # per open file: excludes other threads and processes
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _publish(path: Path, content: bytes) -> None:
    staged = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    descriptor = os.open(staged, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(content)
    os.replace(staged, path)


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Video Enhancer development"),
        ]
    )


def _usage(*, sign: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=sign,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=not sign,
        crl_sign=not sign,
        encipher_only=False,
        decipher_only=False,
    )


def _builder(
    subject: x509.Name, issuer: x509.Name, public_key: ec.EllipticCurvePublicKey
) -> x509.CertificateBuilder:
    now = datetime.datetime.now(datetime.UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=_VALID_DAYS))
    )


def _generate() -> SigningPair:
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (
        _builder(
            _name("Video Enhancer development CA"),
            _name("Video Enhancer development CA"),
            ca_key.public_key(),
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_usage(sign=False), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    leaf = (
        _builder(_name("Video Enhancer development signer"), ca.subject, key.public_key())
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_usage(sign=True), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    chain = leaf.public_bytes(serialization.Encoding.PEM) + ca.public_bytes(serialization.Encoding.PEM)
    private = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return SigningPair(chain, private)
