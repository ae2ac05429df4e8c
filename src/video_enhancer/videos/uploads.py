"""The local backend's signed upload endpoint: bytes in, then the video's upload completed.

An upload streams the request body to a temporary file in bounded chunks (memory stays flat
whatever the size), refuses a byte beyond the signed size, and only when every declared byte is in
does it move the file into place and queue the video's job, in one short transaction. No database
transaction is open while bytes are moving: on SQLite that would hold the write lock for minutes.

The route lives in the videos domain because finishing an upload is the domain's business; it
uses the storage layer (`LocalStorage.begin_write`, the URL signer) and storage never calls back.
On GCS the bucket receives the bytes and `service.complete_upload_by_key` does the same finishing.
"""

from __future__ import annotations

from typing import Annotated, Any

import anyio
from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel
from sqlalchemy.orm import Session, sessionmaker
from starlette.requests import ClientDisconnect

from video_enhancer.api.schemas import error_responses
from video_enhancer.config import Settings
from video_enhancer.db import session_scope
from video_enhancer.errors import BadRequest, PayloadTooLarge
from video_enhancer.models import JobStatus
from video_enhancer.storage.local import (
    CHUNK_BYTES,
    AtomicWrite,
    LocalStorage,
    require_local,
    upload_fields,
    validate_area,
)
from video_enhancer.storage.signing import SignatureInvalid
from video_enhancer.videos import service
from video_enhancer.videos.errors import SizeMismatch

router = APIRouter()

_BINARY = {"schema": {"type": "string", "format": "binary"}}


class UploadInterrupted(BadRequest):
    default_code = "UPLOAD_INTERRUPTED"
    default_message = "The upload stopped before every byte arrived; send the file again."


class UploadReceipt(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)

    key: str
    size_bytes: int
    job_status: JobStatus | None = Field(None, description="The video's job status after the upload.")


@router.put(
    "/upload",
    operation_id="uploadObject",
    response_model=UploadReceipt,
    responses=error_responses(400, 403, 404, 409, 413, 503),
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
    storage = require_local(request.app.state.storage)
    storage.signer.verify(upload_fields(area, key, expires, content_type, size), signature)
    _check_headers(request, content_type, size)
    factory: sessionmaker[Session] = request.app.state.session_factory
    settings: Settings = request.app.state.settings
    if area == "raw":
        await anyio.to_thread.run_sync(_in_transaction, factory, service.ensure_upload_expected, key)
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
        video = service.ensure_upload_expected(session, key)
        write.commit()
        return service.mark_upload_complete(session, video, storage, settings).status
