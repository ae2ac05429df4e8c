"""Google Cloud Storage backend on the official `google-cloud-storage` client.

* Two buckets: `raw` (uploads, `VE_RAW_BUCKET`) and `enhanced` (results, `VE_ENHANCED_BUCKET`).
* Credentials the usual Google way: `VE_GCS_CREDENTIALS_FILE` (a service-account key) or
  application default credentials; `VE_GCS_ENDPOINT` points at an emulator with anonymous access.
* Signed URLs are V4. With a key file the client signs locally; without one (Cloud Run, GCE) it
  signs through IAM `signBlob` as `VE_GCS_SIGNING_SERVICE_ACCOUNT` (or the ADC account) using the
  current access token, so no key ever has to be deployed.
* Transfers stream in `CHUNK_BYTES` pieces (resumable uploads, ranged reads): memory does not grow
  with the file size.

Client errors become `StorageUnavailable` (503) or `ObjectNotFound` (404); nothing of the SDK's
exception tree leaks to callers.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, BinaryIO

import google.auth
import requests
from google.api_core import exceptions as api_exceptions
from google.auth import exceptions as auth_exceptions
from google.auth.credentials import AnonymousCredentials, Credentials
from google.auth.transport.requests import Request
from google.cloud import storage
from google.cloud.storage.retry import DEFAULT_RETRY
from google.oauth2 import service_account

from video_enhancer.config import Settings
from video_enhancer.errors import BadRequest, StorageUnavailable
from video_enhancer.storage.base import Area, InvalidKey, ObjectNotFound, SignedUrl, refuse_whole_area

__all__ = ["CHUNK_BYTES", "GcsStorage", "InvalidSignedUrlRequest", "ObjectNotFound", "UrlSigner"]

# Resumable upload chunks must be multiples of 256 KiB; 8 MiB keeps request counts low on
# multi-GB files while bounding memory per transfer.
CHUNK_BYTES = 8 * 1024 * 1024
REQUEST_TIMEOUT = (10, 120)  # (connect, read) seconds
MAX_SIGNED_URL_TTL_SECONDS = 7 * 24 * 3600  # the V4 limit
# The client retries transient errors; bound the total so an API request fails fast with a 503.
RETRY_TIMEOUT_SECONDS = 20.0
_SCOPES = ("https://www.googleapis.com/auth/cloud-platform",)
# Errors that mean "the service could not be reached or refused us", as opposed to "no object".
_UNAVAILABLE_ERRORS: tuple[type[BaseException], ...] = (
    api_exceptions.GoogleAPIError,
    auth_exceptions.GoogleAuthError,
    requests.RequestException,
    ConnectionError,
    TimeoutError,
)


class InvalidSignedUrlRequest(BadRequest):
    default_code = "INVALID_INPUT"


@dataclass(frozen=True, slots=True)
class UrlSigner:
    """How V4 URLs get their signature: a private key, or IAM signBlob with a token."""

    credentials: Credentials | None = None  # a signing-capable service account (key file)
    service_account_email: str | None = None  # for IAM signBlob
    token_source: Credentials | None = None  # ADC credentials that mint the access token

    def signing_kwargs(self) -> dict[str, Any]:
        if self.credentials is not None:
            return {"credentials": self.credentials}
        if self.service_account_email is None or self.token_source is None:
            raise StorageUnavailable(
                "Signed URLs need VE_GCS_CREDENTIALS_FILE or a service account for IAM signBlob."
            )
        if not self.token_source.valid:
            self.token_source.refresh(Request())
        return {"service_account_email": self.service_account_email, "access_token": self.token_source.token}


class GcsStorage:
    name = "gcs"

    def __init__(
        self,
        client: storage.Client,
        buckets: dict[Area, str],
        signer: UrlSigner,
        *,
        api_endpoint: str | None = None,
        retry_timeout_seconds: float = RETRY_TIMEOUT_SECONDS,
    ) -> None:
        self._client = client
        self._retry = DEFAULT_RETRY.with_timeout(retry_timeout_seconds)
        self._buckets = buckets
        self._signer = signer
        self._api_endpoint = api_endpoint
        self.signs_offline = signer.credentials is not None  # else IAM signBlob, over the network

    # -- construction -------------------------------------------------------------------------

    @classmethod
    def from_settings(
        cls, settings: Settings, *, retry_timeout_seconds: float = RETRY_TIMEOUT_SECONDS
    ) -> GcsStorage:
        key_credentials = _key_file_credentials(settings.gcs_credentials_file)
        if settings.gcs_endpoint:
            client = _emulator_client(settings.gcs_endpoint, settings.gcs_project)
            signer = UrlSigner(credentials=key_credentials)
        else:
            client, signer = _cloud_client(settings, key_credentials)
        buckets: dict[Area, str] = {"raw": settings.raw_bucket, "enhanced": settings.enhanced_bucket}
        return cls(
            client,
            buckets,
            signer,
            api_endpoint=settings.gcs_endpoint,
            retry_timeout_seconds=retry_timeout_seconds,
        )

    # -- objects ------------------------------------------------------------------------------

    def put_file(self, area: Area, key: str, source: Path, content_type: str | None = None) -> None:
        blob = self._blob(area, key, chunked=True)
        with self._errors(area, key):
            blob.upload_from_filename(
                str(source), content_type=content_type, timeout=REQUEST_TIMEOUT, retry=self._retry
            )

    def put_stream(self, area: Area, key: str, stream: BinaryIO, content_type: str | None = None) -> int:
        blob = self._blob(area, key, chunked=True)
        written = 0
        with self._errors(area, key):
            # A resumable session: each CHUNK_BYTES piece is sent as it fills; nothing is visible
            # under the key until the writer closes, so a failed stream leaves no partial object.
            with blob.open("wb", chunk_size=CHUNK_BYTES, content_type=content_type, ignore_flush=True) as out:
                while chunk := stream.read(CHUNK_BYTES):
                    out.write(chunk)
                    written += len(chunk)
        return written

    def open_read(self, area: Area, key: str) -> Iterator[bytes]:
        blob = self._blob(area, key)
        with self._errors(area, key), blob.open("rb", chunk_size=CHUNK_BYTES) as reader:
            while chunk := reader.read(CHUNK_BYTES):
                yield chunk

    def download_to(self, area: Area, key: str, destination: Path) -> None:
        blob = self._blob(area, key, chunked=True)
        partial = destination.with_name(destination.name + ".partial")
        destination.parent.mkdir(parents=True, exist_ok=True)
        try:
            with self._errors(area, key):
                blob.download_to_filename(str(partial), timeout=REQUEST_TIMEOUT, retry=self._retry)
            os.replace(partial, destination)
        finally:
            partial.unlink(missing_ok=True)

    def size(self, area: Area, key: str) -> int | None:
        with self._errors(area, key):
            blob = self._bucket(area).get_blob(key, timeout=REQUEST_TIMEOUT, retry=self._retry)
        return None if blob is None else int(blob.size or 0)

    def exists(self, area: Area, key: str) -> bool:
        return self.size(area, key) is not None

    def delete(self, area: Area, key: str) -> None:
        try:
            with self._errors(area, key):
                self._blob(area, key).delete(timeout=REQUEST_TIMEOUT, retry=self._retry)
        except ObjectNotFound:
            return

    def delete_prefix(self, area: Area, prefix: str) -> None:
        refuse_whole_area(prefix)
        for key in self.list_keys(area, prefix):
            self.delete(area, key)

    def list_keys(self, area: Area, prefix: str) -> list[str]:
        with self._errors(area, prefix):
            blobs = self._client.list_blobs(
                self._buckets[area], prefix=prefix, timeout=REQUEST_TIMEOUT, retry=self._retry
            )
            return sorted(blob.name for blob in blobs)

    # -- signed URLs --------------------------------------------------------------------------

    def signed_upload_url(
        self, area: Area, key: str, *, content_type: str, size_bytes: int, ttl_seconds: int
    ) -> SignedUrl:
        if size_bytes <= 0:
            raise InvalidSignedUrlRequest("The upload size must be positive.")
        # The length-range header is signed, so GCS rejects a body larger than announced.
        headers = {"Content-Type": content_type, "x-goog-content-length-range": f"0,{size_bytes}"}
        url, expires_at = self._sign(
            area,
            key,
            method="PUT",
            ttl_seconds=ttl_seconds,
            content_type=content_type,
            headers={"x-goog-content-length-range": headers["x-goog-content-length-range"]},
        )
        return SignedUrl(url=url, method="PUT", expires_at=expires_at, headers=headers)

    def resumable_upload_url(
        self, area: Area, key: str, *, content_type: str, size_bytes: int, ttl_seconds: int
    ) -> SignedUrl:
        """A GCS resumable upload session. Its URI is the credential (no signature; GCS keeps it a
        week) and it is pinned to `size_bytes`: GCS refuses a different total."""
        if size_bytes <= 0:
            raise InvalidSignedUrlRequest("The upload size must be positive.")
        blob = self._blob(area, key)
        with self._errors(area, key):
            url = blob.create_resumable_upload_session(
                content_type=content_type, size=size_bytes, timeout=REQUEST_TIMEOUT, retry=self._retry
            )
        ttl = min(max(ttl_seconds, 1), MAX_SIGNED_URL_TTL_SECONDS)
        expires_at = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=ttl)
        return SignedUrl(url=url, method="PUT", expires_at=expires_at, headers={})

    def discard_resumable(self, area: Area, key: str) -> None:
        """Nothing to do: an unfinished session's bytes are never an object, and GCS drops them
        when the session lapses (a week)."""

    def signed_download_url(
        self, area: Area, key: str, *, ttl_seconds: int, filename: str | None = None
    ) -> SignedUrl:
        disposition = _attachment(filename) if filename else None
        url, expires_at = self._sign(
            area, key, method="GET", ttl_seconds=ttl_seconds, response_disposition=disposition
        )
        return SignedUrl(url=url, method="GET", expires_at=expires_at, headers={})

    # -- operations ---------------------------------------------------------------------------

    def check_ready(self) -> None:
        for area in self._buckets:
            with self._errors(area, ""):
                # Listing needs only object-level read, which both service accounts hold.
                list(self._client.list_blobs(self._buckets[area], max_results=1, timeout=(3, 5), retry=None))

    def ensure_buckets(self) -> None:
        """Create missing buckets (emulators and local stacks; production buckets are provisioned)."""
        for area, bucket_name in self._buckets.items():
            with self._errors(area, ""):
                if self._client.lookup_bucket(bucket_name) is None:
                    self._client.create_bucket(bucket_name)

    def remove_stale_partials(self, older_than: timedelta, now: datetime | None = None) -> int:
        """Nothing to do: an unfinished resumable upload is never visible and GCS drops it itself."""
        return 0

    # -- internals ----------------------------------------------------------------------------

    def _bucket(self, area: Area) -> storage.Bucket:
        return self._client.bucket(self._buckets[area])

    def _blob(self, area: Area, key: str, *, chunked: bool = False) -> storage.Blob:
        if not key or key.startswith("/"):
            raise InvalidKey()
        # A chunk size switches uploads to resumable sessions and downloads to ranged requests.
        return self._bucket(area).blob(key, chunk_size=CHUNK_BYTES if chunked else None)

    def _sign(
        self, area: Area, key: str, *, method: str, ttl_seconds: int, **options: Any
    ) -> tuple[str, datetime]:
        ttl = min(max(ttl_seconds, 1), MAX_SIGNED_URL_TTL_SECONDS)
        expires_at = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=ttl)
        extra: dict[str, Any] = {k: v for k, v in options.items() if v is not None}
        if self._api_endpoint:
            extra["api_access_endpoint"] = self._api_endpoint
        with self._errors(area, key):
            url = self._blob(area, key).generate_signed_url(
                version="v4",
                expiration=timedelta(seconds=ttl),
                method=method,
                **self._signer.signing_kwargs(),
                **extra,
            )
        return url, expires_at

    @contextmanager
    def _errors(self, area: Area, key: str) -> Iterator[None]:
        try:
            yield
        except api_exceptions.NotFound as exc:
            raise ObjectNotFound(f"No object {key!r} in the {area} bucket.") from exc
        except _UNAVAILABLE_ERRORS as exc:
            raise StorageUnavailable(f"Cloud Storage request failed: {type(exc).__name__}") from exc


def _attachment(filename: str) -> str:
    # Quotes and control characters would break the header; the name is cosmetic, so drop them.
    safe = "".join(ch for ch in filename if ch.isprintable() and ch not in '"\\')
    return f'attachment; filename="{safe or "video.mp4"}"'


def _key_file_credentials(path: Path | None) -> service_account.Credentials | None:
    if path is None:
        return None
    return service_account.Credentials.from_service_account_file(str(path), scopes=_SCOPES)


def _emulator_client(endpoint: str, project: str | None) -> storage.Client:
    return storage.Client(
        project=project or "video-enhancer-local",
        credentials=AnonymousCredentials(),  # type: ignore[no-untyped-call]
        client_options={"api_endpoint": endpoint},
    )


def _cloud_client(
    settings: Settings, key_credentials: service_account.Credentials | None
) -> tuple[storage.Client, UrlSigner]:
    if key_credentials is not None:
        client = storage.Client(
            project=settings.gcs_project or key_credentials.project_id, credentials=key_credentials
        )
        return client, UrlSigner(credentials=key_credentials)
    try:
        credentials, project = google.auth.default(scopes=_SCOPES)
    except auth_exceptions.DefaultCredentialsError as exc:
        raise StorageUnavailable("No Google credentials found (set VE_GCS_CREDENTIALS_FILE or ADC).") from exc
    client = storage.Client(project=settings.gcs_project or project, credentials=credentials)
    email = settings.gcs_signing_service_account or getattr(credentials, "service_account_email", None)
    # Compute Engine credentials report "default" until refreshed; signBlob needs the real email.
    if email == "default":
        credentials.refresh(Request())
        email = getattr(credentials, "service_account_email", None)
    return client, UrlSigner(service_account_email=email, token_source=credentials)
