"""Sign an enhanced MP4 with a C2PA manifest and read it back (`c2pa-python`).

The manifest says: the source is the parent ingredient, the
actions are ``c2pa.opened`` then ``c2pa.edited`` with the IPTC digital source type
``algorithmicallyEnhanced`` (the pixels were upscaled by an algorithm, an AI model or Lanczos),
the software agent is the enhancer with its name and version; our own assertion
(`org.video-enhancer.source`) carries the source's SHA-256, the enhancer and the size plan.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from video_enhancer import __version__
from video_enhancer.media.errors import MediaError
from video_enhancer.provenance.keys import SigningPair

DIGITAL_SOURCE_TYPE = "http://cv.iptc.org/newscodes/digitalsourcetype/algorithmicallyEnhanced"
SOURCE_ASSERTION = "org.video-enhancer.source"
_ACCEPTED_STATES = ("Valid", "Trusted")


class CredentialsInvalid(MediaError):
    default_code = "CONTENT_CREDENTIALS_INVALID"
    default_message = "The output's Content Credentials did not validate; it was not delivered or charged."


@dataclass(frozen=True, slots=True)
class EditFacts:
    enhancer: str
    source_sha256: str
    size_plan: dict[str, dict[str, int]]
    title: str = "enhanced.mp4"


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _manifest(facts: EditFacts) -> dict[str, Any]:
    edited = {
        "action": "c2pa.edited",
        "digitalSourceType": DIGITAL_SOURCE_TYPE,
        "softwareAgent": {"name": f"video-enhancer/{facts.enhancer}", "version": __version__},
    }
    return {
        "claim_generator_info": [{"name": "video-enhancer", "version": __version__}],
        "title": facts.title,
        "assertions": [
            {
                "label": "c2pa.actions",
                "data": {
                    "actions": [
                        {"action": "c2pa.opened", "parameters": {"ingredientIds": ["source"]}},
                        edited,
                    ]
                },
            },
            {
                "label": SOURCE_ASSERTION,
                "data": {
                    "sha256": facts.source_sha256,
                    "enhancer": facts.enhancer,
                    "sizePlan": facts.size_plan,
                },
            },
        ],
    }


def sign_video(pair: SigningPair, source: Path, output: Path, facts: EditFacts) -> None:
    """Replace ``output`` by a copy carrying the signed manifest (atomically)."""
    import c2pa

    signer = c2pa.Signer.from_info(
        c2pa.C2paSignerInfo(b"es256", pair.cert_chain_pem, pair.private_key_pem, None)
    )
    source_format = _SOURCE_FORMATS.get(source.suffix.lower(), "video/mp4")
    ingredient = {
        "title": source.name,
        "relationship": "parentOf",
        "format": source_format,
        "label": "source",
    }
    signed = output.with_name(output.stem + ".c2pa.mp4")
    try:
        builder = _builder_with_source(c2pa, facts, source, ingredient)
        with output.open("rb") as unsigned, signed.open("w+b") as destination:
            builder.sign(signer, "video/mp4", unsigned, destination)
    except c2pa.C2paError as exc:
        signed.unlink(missing_ok=True)
        raise CredentialsInvalid("The output could not be signed.", detail=str(exc)) from exc
    signed.replace(output)


# Containers the C2PA library reads as an ingredient; other sources (AVI, raw DV, MPEG program
# streams: the old footage this service is for) are named as the ingredient without being parsed,
# and the source's hash travels in the manifest's own assertion either way.
_SOURCE_FORMATS = {".mp4": "video/mp4", ".m4v": "video/mp4", ".mov": "video/quicktime"}


def _builder_with_source(c2pa: Any, facts: EditFacts, source: Path, ingredient: dict[str, Any]) -> Any:
    if source.suffix.lower() in _SOURCE_FORMATS:
        try:
            builder = c2pa.Builder(json.dumps(_manifest(facts)))
            with source.open("rb") as parent:
                builder.add_ingredient(json.dumps(ingredient), ingredient["format"], parent)
            return builder
        except c2pa.C2paError:
            pass  # a file the library cannot parse: name it instead, below
    return c2pa.Builder(json.dumps({**_manifest(facts), "ingredients": [ingredient]}))


def read_credentials(path: Path) -> dict[str, Any]:
    """The active manifest's facts as the API reports them; raises `CredentialsInvalid`."""
    import c2pa

    try:
        with path.open("rb") as file:
            reader = c2pa.Reader("video/mp4", file)
            state = reader.get_validation_state()
            manifest = json.loads(reader.json())
    except c2pa.C2paError as exc:
        raise CredentialsInvalid(
            "The output carries no readable Content Credentials.", detail=str(exc)
        ) from exc
    active = manifest["manifests"][manifest["active_manifest"]]
    source: dict[str, Any] = next(
        (a["data"] for a in active["assertions"] if a["label"] == SOURCE_ASSERTION), {}
    )
    return {
        "standard": "C2PA",
        "validationState": state,
        "digitalSourceType": DIGITAL_SOURCE_TYPE,
        "sourceSha256": source.get("sha256"),
        "enhancer": source.get("enhancer"),
        "signer": active.get("signature_info", {}).get("issuer"),
        "claimGenerator": f"video-enhancer {__version__}",
    }


def verify_credentials(path: Path, source_sha256: str) -> dict[str, Any]:
    """Read the manifest back: it must validate and name this source; the facts for the job."""
    facts = read_credentials(path)
    if facts["validationState"] not in _ACCEPTED_STATES or facts["sourceSha256"] != source_sha256:
        raise CredentialsInvalid(detail=f"state {facts['validationState']}, source {facts['sourceSha256']}")
    return facts
