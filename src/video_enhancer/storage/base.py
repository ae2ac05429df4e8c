"""The storage interface shared by the local-folder and Google Cloud Storage backends.

Objects live in two areas, `raw` (uploads) and `enhanced` (results): two buckets on GCS, two
folders locally. Keys are relative paths such as `users/<user>/videos/<video>/source`.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import BinaryIO, Literal, Protocol, runtime_checkable

Area = Literal["raw", "enhanced"]


@dataclass(frozen=True, slots=True)
class SignedUrl:
    url: str
    method: Literal["GET", "PUT"]
    expires_at: datetime
    headers: dict[str, str]  # headers the client must send (e.g. Content-Type)


@runtime_checkable
class Storage(Protocol):
    name: str

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
