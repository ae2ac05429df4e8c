"""The endpoints behind the local backend's signed URLs: streamed uploads and ranged downloads.

An upload streams the request body to a temporary file in bounded chunks (memory stays flat
whatever the size), refuses a byte beyond the signed size, and only when every declared byte is in
does it move the file into place and queue the video's job, in one short transaction. No database
transaction is open while bytes are moving: on SQLite that would hold the write lock for minutes.
"""

from __future__ import annotations

import mimetypes
import re
from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import quote

import anyio
from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel
from sqlalchemy.orm import Session, sessionmaker
from starlette.requests import ClientDisconnect

from video_enhancer.api.schemas import ErrorResponse, error_responses
from video_enhancer.config import Settings
from video_enhancer.db import session_scope
from video_enhancer.errors import AppError, BadRequest, NotFound, PayloadTooLarge
from video_enhancer.models import JobStatus
from video_enhancer.storage.local import (
    CHUNK_BYTES,
    AtomicWrite,
    LocalStorage,
    download_fields,
    upload_fields,
    validate_area,
)
from video_enhancer.storage.signing import SignatureInvalid
from video_enhancer.videos import service as videos_service
from video_enhancer.videos.errors import SizeMismatch

router = APIRouter()


class UploadInterrupted(BadRequest):
    default_code = "UPLOAD_INTERRUPTED"
    default_message = "The upload stopped before every byte arrived; send the file again."


_RANGE = re.compile(r"bytes=(\d*)-(\d*)")
# 18 digits reach an exabyte; more cannot name a byte of any object, and converting thousands
# of digits to an int is refused by Python itself (the 500 this bound prevents).
_MAX_RANGE_DIGITS = 18
_BINARY = {"schema": {"type": "string", "format": "binary"}}
_MEDIA = {"video/*": _BINARY, "application/octet-stream": _BINARY}


class UploadReceipt(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)

    key: str
    size_bytes: int
    job_status: JobStatus | None = Field(None, description="The video's job status after the upload.")


def _local_storage(request: Request) -> LocalStorage:
    storage = request.app.state.storage
    if not isinstance(storage, LocalStorage):
        raise NotFound()  # these routes exist only for the local backend
    return storage


@router.put(
    "/upload",
    response_model=UploadReceipt,
    responses=error_responses(400, 403, 404, 409, 413),
    openapi_extra={"requestBody": {"required": True, "content": {"application/octet-stream": _BINARY}}},
    summary="Upload an object through a signed URL",
)
async def upload_object(
    request: Request,
    area: str,
    key: str,
    expires: int,
    size: Annotated[int, Query(ge=0)],
    signature: str,
    content_type: Annotated[str, Query(alias="contentType")],
) -> UploadReceipt:
    storage = _local_storage(request)
    fields = upload_fields(area, key, expires, content_type, size)
    storage.signer.verify(fields, signature)
    _check_headers(request, content_type, size)
    factory: sessionmaker[Session] = request.app.state.session_factory
    settings: Settings = request.app.state.settings
    if area == "raw":
        await anyio.to_thread.run_sync(_in_transaction, factory, videos_service.ensure_upload_expected, key)
    with storage.begin_write(validate_area(area), key) as write:
        try:
            await _receive_body(request, write, size)
        except ClientDisconnect:
            # The client went away mid-upload: the partial file is dropped on the way out and
            # the job keeps waiting for a complete upload. Not a server error.
            raise UploadInterrupted() from None
        if write.bytes_written != size:
            raise SizeMismatch(f"Received {write.bytes_written} of {size} declared bytes.")
        status = await anyio.to_thread.run_sync(_finish_upload, factory, storage, settings, area, key, write)
    return UploadReceipt(key=key, size_bytes=size, job_status=status)


def _check_headers(request: Request, content_type: str, size: int) -> None:
    sent_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if sent_type != content_type.lower():
        raise SignatureInvalid("The Content-Type header does not match the signed upload.")
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > size:
        raise PayloadTooLarge(f"The upload is limited to {size} bytes.")


async def _receive_body(request: Request, write: AtomicWrite, size: int) -> None:
    """Copy the body to disk in ~1 MiB writes done off the event loop; stop at the first extra byte."""
    buffer = bytearray()
    received = 0
    async for chunk in request.stream():
        received += len(chunk)
        if received > size:
            raise PayloadTooLarge(f"The upload is limited to {size} bytes.")
        buffer += chunk
        if len(buffer) >= CHUNK_BYTES:
            await anyio.to_thread.run_sync(write.write, bytes(buffer))
            buffer.clear()
    if buffer:
        await anyio.to_thread.run_sync(write.write, bytes(buffer))


def _in_transaction(factory: sessionmaker[Session], func: Any, *args: Any) -> Any:
    with session_scope(factory) as session:
        return func(session, *args)


def _finish_upload(
    factory: sessionmaker[Session],
    storage: LocalStorage,
    settings: Settings,
    area: str,
    key: str,
    write: AtomicWrite,
) -> JobStatus | None:
    if area != "raw":
        write.commit()
        return None
    with session_scope(factory) as session:
        # The state is checked again under the lock: a second upload racing this one loses here,
        # before its file replaces the first one.
        video = videos_service.ensure_upload_expected(session, key)
        write.commit()
        return videos_service.mark_upload_complete(session, video, storage, settings).status


_DOWNLOAD_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"description": "The whole object.", "content": _MEDIA},
    206: {"description": "The requested byte range.", "content": _MEDIA},
    416: {"description": "Range not satisfiable (RANGE_NOT_SATISFIABLE).", "model": ErrorResponse},
    **error_responses(400, 403, 404),
}


@router.get(
    "/download",
    response_class=StreamingResponse,
    responses=_DOWNLOAD_RESPONSES,
    summary="Download an object through a signed URL (supports HTTP Range)",
)
def download_object(
    request: Request,
    area: str,
    key: str,
    expires: int,
    signature: str,
    filename: str = "",
) -> Response:
    return _download(request, DownloadRequest(area, key, expires, signature, filename), with_body=True)


@router.head(
    "/download",
    response_class=Response,
    responses=_DOWNLOAD_RESPONSES,
    summary="The headers of a download (size, type, ranges) without its body",
)
def download_object_head(
    request: Request,
    area: str,
    key: str,
    expires: int,
    signature: str,
    filename: str = "",
) -> Response:
    return _download(request, DownloadRequest(area, key, expires, signature, filename), with_body=False)


@dataclass(frozen=True, slots=True)
class DownloadRequest:
    area: str
    key: str
    expires: int
    signature: str
    filename: str


def _download(request: Request, wanted: DownloadRequest, *, with_body: bool) -> Response:
    storage = _local_storage(request)
    storage.signer.verify(
        download_fields(wanted.area, wanted.key, wanted.expires, wanted.filename), wanted.signature
    )
    area_name = validate_area(wanted.area)
    total = storage.size(area_name, wanted.key)
    if total is None:
        raise NotFound("The stored object does not exist.")
    headers = {"Accept-Ranges": "bytes", "Cache-Control": "private, max-age=0"}
    if wanted.filename:
        headers["Content-Disposition"] = content_disposition(wanted.filename)
    media_type = mimetypes.guess_type(wanted.key)[0] or "application/octet-stream"
    try:
        byte_range = parse_range(request.headers.get("range"), total)
    except RangeNotSatisfiable as exc:
        return JSONResponse(
            exc.to_dict(),
            status_code=416,
            headers={"Content-Range": f"bytes */{total}", "Accept-Ranges": "bytes"},
        )
    start, end = byte_range if byte_range is not None else (0, total - 1)
    headers["Content-Length"] = str(end - start + 1)
    status = 200 if byte_range is None else 206
    if byte_range is not None:
        headers["Content-Range"] = f"bytes {start}-{end}/{total}"
    if not with_body:
        return Response(status_code=status, media_type=media_type, headers=headers)
    if byte_range is None:
        body = storage.open_read(area_name, wanted.key)
    else:
        body = storage.open_read(area_name, wanted.key, start, end - start + 1)
    return StreamingResponse(body, status_code=status, media_type=media_type, headers=headers)


class RangeNotSatisfiable(AppError):
    status_code = 416
    default_code = "RANGE_NOT_SATISFIABLE"
    default_message = "The requested range lies outside the object."


def parse_range(header: str | None, total: int) -> tuple[int, int] | None:
    """`(start, end)` inclusive, or None to send the whole object; `RangeNotSatisfiable` when
    the range lies outside it.

    A missing, malformed or multi-range header is ignored (RFC 9110 allows serving the whole
    representation instead); only a well-formed single range outside the object is a 416.
    """
    if not header:
        return None
    match = _RANGE.fullmatch(header.strip())
    if match is None:
        return None
    first, last = match.groups()
    if not first and not last:
        return None
    if len(first) > _MAX_RANGE_DIGITS or len(last) > _MAX_RANGE_DIGITS:
        raise RangeNotSatisfiable()
    if not first:  # suffix range: the last N bytes
        suffix = int(last)
        if suffix == 0 or total == 0:
            raise RangeNotSatisfiable()
        return max(0, total - suffix), total - 1
    start = int(first)
    end = min(int(last), total - 1) if last else total - 1
    if last and int(last) < start:
        return None
    if start >= total:
        raise RangeNotSatisfiable()
    return start, end


def content_disposition(filename: str) -> str:
    """`attachment` with an ASCII fallback name and the exact UTF-8 name (RFC 6266 / RFC 5987):
    header values must be Latin-1, and a phone's file name can be anything."""
    printable = "".join(ch for ch in filename if ch.isprintable())
    fallback = "".join(ch if ch.isascii() and ch not in '"\\/' else "_" for ch in printable) or "download"
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(printable, safe='')}"
