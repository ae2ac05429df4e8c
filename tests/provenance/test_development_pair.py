"""The development signing pair: generated once, whole, whoever asks first."""

from __future__ import annotations

import stat
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from video_enhancer.provenance.keys import SigningPair, development_pair


def _key_matches_certificate(pair: SigningPair) -> bool:
    leaf = x509.load_pem_x509_certificates(pair.cert_chain_pem)[0]
    key = serialization.load_pem_private_key(pair.private_key_pem, password=None)
    spki = serialization.PublicFormat.SubjectPublicKeyInfo
    return key.public_key().public_bytes(serialization.Encoding.PEM, spki) == leaf.public_key().public_bytes(
        serialization.Encoding.PEM, spki
    )


def test_job_threads_asking_at_once_get_one_matching_pair(tmp_path: Path) -> None:
    # Two jobs starting together on a fresh install once signed with a certificate from one
    # generation and the key of another ("COSE Signer does not contain signing certificate").
    directory = tmp_path / "c2pa"
    with ThreadPoolExecutor(max_workers=8) as pool:
        pairs = list(pool.map(lambda _: development_pair(directory), range(16)))
    assert len(set(pairs)) == 1
    assert _key_matches_certificate(pairs[0])
    assert development_pair(directory) == pairs[0]  # kept, not regenerated
    assert stat.S_IMODE((directory / "signer.key").stat().st_mode) == 0o600
    assert sorted(p.name for p in directory.iterdir()) == [".generate.lock", "chain.pem", "signer.key"]
