"""Local-folder storage: the embedded default, with signed URLs served by the API itself.

Layout under `root`: `raw/` (uploads) and `enhanced/` (results) kept apart, and `.tmp/` where
every write lands first; a finished write is renamed into place (same filesystem, so atomic), so a
reader never sees a half-written object and an interrupted upload leaves only a temporary file.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import TracebackType
from typing import BinaryIO
from urllib.parse import urlencode

from video_enhancer.config import Settings
from video_enhancer.errors import Conflict, NotFound, StorageUnavailable
from video_enhancer.storage.base import (
    AREAS,
    Area,
    InvalidKey,
    ObjectNotFound,
    SignedUrl,
    refuse_whole_area,
    validate_area,
    validate_key,
    validate_prefix,
)
from video_enhancer.storage.signing import UrlSigner

__all__ = [
    "AREAS",
    "CHUNK_BYTES",
    "AtomicWrite",
    "InvalidKey",
    "LocalStorage",
    "ObjectNotFound",
    "download_fields",
    "require_local",
    "upload_fields",
    "validate_area",
    "validate_key",
]

CHUNK_BYTES = 1024 * 1024
UPLOAD_PATH = "/storage/upload"
RESUMABLE_UPLOAD_PATH = "/storage/upload/resumable"
DOWNLOAD_PATH = "/storage/download"


class AtomicWrite:
    """A write into `.tmp/` that becomes visible under its key only on `commit()`."""

    def __init__(self, tmp_path: Path, final_path: Path) -> None:
        self._tmp_path = tmp_path
        self._final_path = final_path
        self._file: BinaryIO = open(tmp_path, "wb")
        self.bytes_written = 0

    def write(self, chunk: bytes) -> None:
        self._file.write(chunk)
        self.bytes_written += len(chunk)

    def commit(self) -> None:
        self._file.flush()
        os.fsync(self._file.fileno())
        self._file.close()
        self._final_path.parent.mkdir(parents=True, exist_ok=True)
        os.replace(self._tmp_path, self._final_path)

    def abort(self) -> None:
        self._file.close()
        self._tmp_path.unlink(missing_ok=True)

    def __enter__(self) -> AtomicWrite:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if exc_type is not None or not self._file.closed:
            self.abort()


class UploadInProgress(Conflict):
    default_code = "UPLOAD_IN_PROGRESS"
    default_message = "Another request is writing to this upload; ask for its offset and retry."


class ResumablePart:
    """The growing file of a resumable upload, locked (flock) so one request appends at a time.

    Bytes are appended as they arrive and survive a cut connection: the next request resumes at
    `size`. Nothing is visible under the key until `finish()` renames the file into place.
    """

    def __init__(self, part_path: Path, final_path: Path) -> None:
        self._part_path = part_path
        self._final_path = final_path
        self._file: BinaryIO = open(part_path, "ab")
        try:
            fcntl.flock(self._file.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self._file.close()
            raise UploadInProgress() from None
        self.size = self._file.seek(0, os.SEEK_END)

    def write(self, chunk: bytes) -> None:
        self._file.write(chunk)
        self._file.flush()
        self.size += len(chunk)

    def finish(self) -> None:
        os.fsync(self._file.fileno())
        self._final_path.parent.mkdir(parents=True, exist_ok=True)
        os.replace(self._part_path, self._final_path)
        self.close()

    def close(self) -> None:
        if not self._file.closed:
            self._file.close()  # closing releases the lock

    def __enter__(self) -> ResumablePart:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


class LocalStorage:
    name = "local"
    signs_offline = True

    def __init__(self, root: Path, signing_secret: str, public_base_url: str) -> None:
        self.root = Path(root).resolve()
        self.signer = UrlSigner(signing_secret)
        self.public_base_url = public_base_url.rstrip("/")
        for area in AREAS:
            (self.root / area).mkdir(parents=True, exist_ok=True)
        self._tmp_dir = self.root / ".tmp"
        self._tmp_dir.mkdir(parents=True, exist_ok=True)

    @classmethod
    def from_settings(cls, settings: Settings) -> LocalStorage:
        return cls(
            settings.storage_root,
            settings.url_signing_secret.get_secret_value(),
            settings.public_base_url,
        )

    # Paths

    def path_for(self, area: Area, key: str) -> Path:
        area_root = self.root / validate_area(area)
        path = (area_root / validate_key(key)).resolve()
        if not path.is_relative_to(area_root):  # a symlink pointing out of the area
            raise InvalidKey()
        return path

    def begin_write(self, area: Area, key: str) -> AtomicWrite:
        final_path = self.path_for(area, key)
        return AtomicWrite(self._tmp_dir / f"{uuid.uuid4().hex}.part", final_path)

    # The Storage protocol

    def put_file(self, area: Area, key: str, source: Path, content_type: str | None = None) -> None:
        with open(source, "rb") as stream:
            self.put_stream(area, key, stream, content_type)

    def put_stream(self, area: Area, key: str, stream: BinaryIO, content_type: str | None = None) -> int:
        with self.begin_write(area, key) as write:
            while chunk := stream.read(CHUNK_BYTES):
                write.write(chunk)
            write.commit()
            return write.bytes_written

    def open_read(self, area: Area, key: str, start: int = 0, length: int | None = None) -> Iterator[bytes]:
        path = self.path_for(area, key)
        if not path.is_file():
            raise ObjectNotFound()
        return _read_chunks(path, start, length)

    def download_to(self, area: Area, key: str, destination: Path) -> None:
        path = self.path_for(area, key)
        if not path.is_file():
            raise ObjectNotFound()
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, destination)

    def size(self, area: Area, key: str) -> int | None:
        path = self.path_for(area, key)
        return path.stat().st_size if path.is_file() else None

    def exists(self, area: Area, key: str) -> bool:
        return self.path_for(area, key).is_file()

    def delete(self, area: Area, key: str) -> None:
        self.path_for(area, key).unlink(missing_ok=True)

    def delete_prefix(self, area: Area, prefix: str) -> None:
        refuse_whole_area(prefix)
        for key in self.list_keys(area, prefix):
            self.delete(area, key)

    def list_keys(self, area: Area, prefix: str) -> list[str]:
        area_root = self.root / validate_area(area)
        validate_prefix(prefix)
        # Walk only the deepest folder the prefix names, not the whole area.
        start = area_root / prefix.rsplit("/", 1)[0] if "/" in prefix else area_root
        if not start.is_dir():
            return []
        keys = (p.relative_to(area_root).as_posix() for p in start.rglob("*") if p.is_file())
        return sorted(key for key in keys if key.startswith(prefix))

    def signed_upload_url(
        self, area: Area, key: str, *, content_type: str, size_bytes: int, ttl_seconds: int
    ) -> SignedUrl:
        expires_at = _expiry(ttl_seconds)
        fields = upload_fields(validate_area(area), validate_key(key), expires_at, content_type, size_bytes)
        url = self._url(UPLOAD_PATH, fields)
        return SignedUrl(url=url, method="PUT", expires_at=expires_at, headers={"Content-Type": content_type})

    def resumable_upload_url(
        self, area: Area, key: str, *, content_type: str, size_bytes: int, ttl_seconds: int
    ) -> SignedUrl:
        expires_at = _expiry(ttl_seconds)
        fields = resumable_fields(
            validate_area(area), validate_key(key), expires_at, content_type, size_bytes
        )
        return SignedUrl(
            url=self._url(RESUMABLE_UPLOAD_PATH, fields), method="PUT", expires_at=expires_at, headers={}
        )

    # Resumable uploads (the server side of `resumable_upload_url`)

    def _part_path(self, area: Area, key: str) -> Path:
        digest = hashlib.sha256(f"{validate_area(area)}/{validate_key(key)}".encode()).hexdigest()
        # The .part suffix puts abandoned sessions under `remove_stale_partials` too.
        return self._tmp_dir / f"resumable-{digest[:40]}.part"

    def resumable_offset(self, area: Area, key: str) -> int:
        """Bytes a resumable upload of `key` holds so far (0 before the first)."""
        path = self._part_path(area, key)
        return path.stat().st_size if path.is_file() else 0

    def open_resumable(self, area: Area, key: str) -> ResumablePart:
        return ResumablePart(self._part_path(area, key), self.path_for(area, key))

    def discard_resumable(self, area: Area, key: str) -> None:
        self._part_path(area, key).unlink(missing_ok=True)

    def signed_download_url(
        self, area: Area, key: str, *, ttl_seconds: int, filename: str | None = None
    ) -> SignedUrl:
        expires_at = _expiry(ttl_seconds)
        fields = download_fields(validate_area(area), validate_key(key), expires_at, filename or "")
        return SignedUrl(
            url=self._url(DOWNLOAD_PATH, fields), method="GET", expires_at=expires_at, headers={}
        )

    def check_ready(self) -> None:
        for folder in (*(self.root / area for area in AREAS), self._tmp_dir):
            if not (folder.is_dir() and os.access(folder, os.W_OK)):
                raise StorageUnavailable(f"Storage folder {folder.name!r} is not writable.")

    def remove_stale_partials(self, older_than: timedelta, now: datetime | None = None) -> int:
        """Delete temporary files of uploads abandoned mid-stream (e.g. a crashed API)."""
        cutoff = (now or datetime.now(UTC)).timestamp() - older_than.total_seconds()
        removed = 0
        for path in self._tmp_dir.glob("*.part"):
            if path.stat().st_mtime < cutoff:
                path.unlink(missing_ok=True)
                removed += 1
        return removed

    def _url(self, path: str, fields: dict[str, str]) -> str:
        query = {name: value for name, value in fields.items() if name != "method"}
        query["signature"] = self.signer.sign(fields)
        return f"{self.public_base_url}{path}?{urlencode(query)}"


def require_local(storage: object) -> LocalStorage:
    """The app's storage when it is the local backend; the signed-URL routes 404 otherwise."""
    if not isinstance(storage, LocalStorage):
        raise NotFound()
    return storage


def upload_fields(
    area: str, key: str, expires: datetime | int, content_type: str, size: int
) -> dict[str, str]:
    return {
        "method": "PUT",
        "area": area,
        "key": key,
        "expires": str(_epoch(expires)),
        "contentType": content_type,
        "size": str(size),
    }


def resumable_fields(
    area: str, key: str, expires: datetime | int, content_type: str, size: int
) -> dict[str, str]:
    # Its own method name: a single-PUT URL cannot be used as a resumable session, nor back.
    return {**upload_fields(area, key, expires, content_type, size), "method": "RESUMABLE"}


def download_fields(area: str, key: str, expires: datetime | int, filename: str) -> dict[str, str]:
    return {"method": "GET", "area": area, "key": key, "expires": str(_epoch(expires)), "filename": filename}


def _epoch(value: datetime | int) -> int:
    return int(value.timestamp()) if isinstance(value, datetime) else value


def _expiry(ttl_seconds: int) -> datetime:
    # Whole seconds: the URL carries an integer epoch and the reported expiry must match it.
    return datetime.fromtimestamp(int(datetime.now(UTC).timestamp()) + ttl_seconds, UTC)


def _read_chunks(path: Path, start: int, length: int | None) -> Iterator[bytes]:
    remaining = length
    with open(path, "rb") as stream:
        stream.seek(start)
        while remaining is None or remaining > 0:
            size = CHUNK_BYTES if remaining is None else min(CHUNK_BYTES, remaining)
            chunk = stream.read(size)
            if not chunk:
                return
            if remaining is not None:
                remaining -= len(chunk)
            yield chunk
