"""The storage interface shared by the local-folder and Google Cloud Storage backends.

Objects live in two areas, `raw` (uploads) and `enhanced` (results): two buckets on GCS, two
folders locally. Keys are relative paths such as `users/<user>/videos/<video>/source`, all made by
`storage.keys`. `storage.memory.MemoryStorage` is the in-memory double for tests of other code.

Errors every backend raises: `ObjectNotFound` (reading a missing object), `InvalidKey`,
`StorageUnavailable` (the backend cannot be reached).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import BinaryIO, Literal, Protocol, get_args, runtime_checkable

from video_enhancer.errors import BadRequest, NotFound

Area = Literal["raw", "enhanced"]
AREAS: tuple[str, ...] = get_args(Area)
# Path segments start with an alphanumeric character: no "..", no hidden files, no absolute paths.
_KEY_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*(/[A-Za-z0-9][A-Za-z0-9._-]*)*")
_MAX_KEY_LENGTH = 1024


class InvalidKey(BadRequest):
    default_code = "INVALID_KEY"
    default_message = "The storage key is not valid."


class ObjectNotFound(NotFound):
    default_message = "The stored object does not exist."


def validate_area(area: str) -> Area:
    if area not in AREAS:
        raise InvalidKey(f"Unknown storage area {area!r}.")
    return area  # type: ignore[return-value]


def validate_key(key: str) -> str:
    if len(key) > _MAX_KEY_LENGTH or not _KEY_PATTERN.fullmatch(key):
        raise InvalidKey()
    return key


def validate_prefix(prefix: str) -> str:
    """A prefix for listing: a key, a key with a trailing slash, or "" (the whole area)."""
    stripped = prefix.rstrip("/")
    if stripped:
        validate_key(stripped)
    return prefix


def refuse_whole_area(prefix: str) -> None:
    """Guard of `delete_prefix`: an empty prefix would empty the area."""
    if not prefix.strip("/"):
        raise InvalidKey("Refusing to delete a whole storage area.")


@dataclass(frozen=True, slots=True)
class SignedUrl:
    url: str
    method: Literal["GET", "PUT"]
    expires_at: datetime
    headers: dict[str, str]  # headers the client must send (e.g. Content-Type)


@runtime_checkable
class Storage(Protocol):
    name: str
    # True when `signed_download_url` never leaves the process (an HMAC, a private key); False when
    # it may call a service (IAM signBlob): such a signature must not be made on the event loop.
    signs_offline: bool

    def put_file(self, area: Area, key: str, source: Path, content_type: str | None = None) -> None:
        """Upload a local file (streamed; memory independent of size)."""

    def put_stream(self, area: Area, key: str, stream: BinaryIO, content_type: str | None = None) -> int:
        """Write a stream; returns bytes written."""

    def open_read(self, area: Area, key: str) -> Iterator[bytes]:
        """Read an object as a stream of chunks."""

    def download_to(self, area: Area, key: str, destination: Path) -> None:
        """Copy an object to a local file (streamed)."""

    def size(self, area: Area, key: str) -> int | None:
        """Size in bytes, or None when the object does not exist."""

    def exists(self, area: Area, key: str) -> bool: ...

    def delete(self, area: Area, key: str) -> None:
        """Delete an object; deleting a missing object is not an error."""

    def delete_prefix(self, area: Area, prefix: str) -> None:
        """Delete every object under a prefix (segments, checkpoints)."""

    def list_keys(self, area: Area, prefix: str) -> list[str]: ...

    def signed_upload_url(
        self, area: Area, key: str, *, content_type: str, size_bytes: int, ttl_seconds: int
    ) -> SignedUrl: ...

    def resumable_upload_url(
        self, area: Area, key: str, *, content_type: str, size_bytes: int, ttl_seconds: int
    ) -> SignedUrl:
        """A resumable upload session, spoken the way GCS speaks it: PUT pieces with
        `Content-Range: bytes FIRST-LAST/TOTAL` (308 with `Range` until the last one);
        `Content-Range: bytes */TOTAL` with no body asks how many bytes arrived."""

    def discard_resumable(self, area: Area, key: str) -> None:
        """Drop the bytes of an unfinished resumable upload of `key` (nothing when there are none)."""

    def signed_download_url(
        self, area: Area, key: str, *, ttl_seconds: int, filename: str | None = None
    ) -> SignedUrl: ...

    def check_ready(self) -> None:
        """Raise `StorageUnavailable` when the backend cannot be reached (readiness probe)."""

    def remove_stale_partials(self, older_than: timedelta, now: datetime | None = None) -> int:
        """Drop what writes abandoned mid-stream left behind (older than `older_than`); returns how
        many. Backends whose writes leave nothing visible behind return 0."""
