"""`MemoryStorage`: the `Storage` protocol in a dictionary, for tests of the code that uses storage.

It keeps the contract of the real backends (areas apart, keys validated as strictly as the local
backend does, `ObjectNotFound` on a missing object, whole-object writes), so a test that passes
against it does not rely on anything `LocalStorage` or `GcsStorage` would refuse. Its signed URLs
use the `memory://` scheme: they are records of what was signed, not something to fetch.

`unavailable = True` makes every call raise `StorageUnavailable`, for testing outage handling.
"""

from __future__ import annotations

import shutil
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import BinaryIO
from urllib.parse import urlencode

from video_enhancer.errors import StorageUnavailable
from video_enhancer.storage.base import (
    Area,
    ObjectNotFound,
    SignedUrl,
    refuse_whole_area,
    validate_area,
    validate_key,
    validate_prefix,
)

CHUNK_BYTES = 64 * 1024


@dataclass(frozen=True, slots=True)
class StoredObject:
    data: bytes
    content_type: str | None


@dataclass
class MemoryStorage:
    name: str = "memory"
    signs_offline: bool = True
    unavailable: bool = False
    objects: dict[tuple[Area, str], StoredObject] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    # Writing

    def put_file(self, area: Area, key: str, source: Path, content_type: str | None = None) -> None:
        with open(source, "rb") as stream:
            self.put_stream(area, key, stream, content_type)

    def put_stream(self, area: Area, key: str, stream: BinaryIO, content_type: str | None = None) -> int:
        name = self._name(area, key)
        data = stream.read()  # read in full first: a failed stream leaves no partial object
        with self._lock:
            self.objects[name] = StoredObject(data, content_type)
        return len(data)

    # Reading

    def open_read(self, area: Area, key: str) -> Iterator[bytes]:
        data = self._get(area, key).data
        return (data[start : start + CHUNK_BYTES] for start in range(0, len(data), CHUNK_BYTES))

    def download_to(self, area: Area, key: str, destination: Path) -> None:
        data = self._get(area, key).data
        destination.parent.mkdir(parents=True, exist_ok=True)
        partial = destination.with_name(destination.name + ".partial")
        partial.write_bytes(data)
        shutil.move(partial, destination)

    def size(self, area: Area, key: str) -> int | None:
        stored = self.objects.get(self._name(area, key))
        return None if stored is None else len(stored.data)

    def exists(self, area: Area, key: str) -> bool:
        return self.size(area, key) is not None

    def content_type(self, area: Area, key: str) -> str | None:
        """What the object was stored with (a test helper; not part of the protocol)."""
        return self._get(area, key).content_type

    # Deleting and listing

    def delete(self, area: Area, key: str) -> None:
        name = self._name(area, key)
        with self._lock:
            self.objects.pop(name, None)

    def delete_prefix(self, area: Area, prefix: str) -> None:
        refuse_whole_area(prefix)
        for key in self.list_keys(area, prefix):
            self.delete(area, key)

    def list_keys(self, area: Area, prefix: str) -> list[str]:
        self._check_available()
        validate_area(area)
        validate_prefix(prefix)
        with self._lock:
            names = list(self.objects)
        return sorted(key for stored_area, key in names if stored_area == area and key.startswith(prefix))

    # Signed URLs and operations

    def signed_upload_url(
        self, area: Area, key: str, *, content_type: str, size_bytes: int, ttl_seconds: int
    ) -> SignedUrl:
        fields = {"contentType": content_type, "size": str(size_bytes)}
        url, expires_at = self._sign(area, key, ttl_seconds, fields)
        return SignedUrl(url=url, method="PUT", expires_at=expires_at, headers={"Content-Type": content_type})

    def resumable_upload_url(
        self, area: Area, key: str, *, content_type: str, size_bytes: int, ttl_seconds: int
    ) -> SignedUrl:
        """A session URL like the others (this backend keeps no partial bytes: tests PUT whole)."""
        fields = {"contentType": content_type, "size": str(size_bytes), "resumable": "1"}
        url, expires_at = self._sign(area, key, ttl_seconds, fields)
        return SignedUrl(url=url, method="PUT", expires_at=expires_at, headers={})

    def discard_resumable(self, area: Area, key: str) -> None:
        """Nothing is kept of an unfinished upload here."""
        self._check_available()

    def signed_download_url(
        self, area: Area, key: str, *, ttl_seconds: int, filename: str | None = None
    ) -> SignedUrl:
        url, expires_at = self._sign(area, key, ttl_seconds, {"filename": filename or ""})
        return SignedUrl(url=url, method="GET", expires_at=expires_at, headers={})

    def check_ready(self) -> None:
        self._check_available()

    def remove_stale_partials(self, older_than: timedelta, now: datetime | None = None) -> int:
        """Writes are whole-object: nothing is ever left half-written."""
        self._check_available()
        return 0

    # Internals

    def _name(self, area: Area, key: str) -> tuple[Area, str]:
        self._check_available()
        return validate_area(area), validate_key(key)

    def _get(self, area: Area, key: str) -> StoredObject:
        stored = self.objects.get(self._name(area, key))
        if stored is None:
            raise ObjectNotFound(f"No object {key!r} in the {area} area.")
        return stored

    def _sign(self, area: Area, key: str, ttl_seconds: int, fields: dict[str, str]) -> tuple[str, datetime]:
        self._name(area, key)
        expires_at = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=ttl_seconds)
        query = urlencode({**fields, "expires": str(int(expires_at.timestamp()))})
        return f"memory://{area}/{key}?{query}", expires_at

    def _check_available(self) -> None:
        if self.unavailable:
            raise StorageUnavailable("The in-memory storage is set to be unavailable.")
