"""The local backend's resumable upload sessions, spoken the way Google Cloud Storage speaks them.

* `PUT` a piece with `Content-Range: bytes FIRST-LAST/TOTAL`: `308` with `Range: bytes=0-N` while
  bytes are missing, `200` with the receipt once all `TOTAL` bytes are in (the job is queued).
* `PUT` with no body and `Content-Range: bytes */TOTAL` asks how many bytes arrived: `308` with
  `Range` (none when nothing arrived yet).
* A `PUT` without `Content-Range` sends the whole file from byte 0.

Every byte that reached the server before a connection broke is kept, so a phone that lost its
network at 900 MB resumes at 900 MB. Bytes the server already holds are skipped when a piece
overlaps them; a piece that starts beyond them is refused with `409 UPLOAD_OFFSET_MISMATCH`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Annotated

import anyio
from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, Response
from sqlalchemy.orm import Session, sessionmaker
from starlette.requests import ClientDisconnect

from video_enhancer.api.schemas import error_responses
from video_enhancer.config import Settings
from video_enhancer.db import session_scope
from video_enhancer.errors import AppError, BadRequest, Conflict, NotFound
from video_enhancer.storage.base import Area
from video_enhancer.storage.local import (
    CHUNK_BYTES,
    LocalStorage,
    ResumablePart,
    resumable_fields,
    validate_area,
)
from video_enhancer.videos import service as videos_service

router = APIRouter()

_BINARY = {"schema": {"type": "string", "format": "binary"}}
# At most 20 digits per number: far above any size, and no huge integers to parse.
_PIECE = re.compile(r"bytes (\d{1,20})-(\d{1,20})/(\d{1,20}|\*)")
_STATUS_QUERY = re.compile(r"bytes \*/(\d{1,20})")


class InvalidContentRange(BadRequest):
    default_code = "INVALID_CONTENT_RANGE"
    default_message = "Content-Range must be `bytes FIRST-LAST/TOTAL` or `bytes */TOTAL`."


class UploadOffsetMismatch(Conflict):
    default_code = "UPLOAD_OFFSET_MISMATCH"
    default_message = "The piece starts beyond the bytes received; ask for the offset and resume there."


class PieceInterrupted(BadRequest):
    default_code = "UPLOAD_INTERRUPTED"
    default_message = "The piece stopped before its last byte; ask for the offset and resume."


@dataclass(frozen=True, slots=True)
class Piece:
    first: int
    last: int  # inclusive; first - 1 for a status query

    @property
    def length(self) -> int:
        return self.last - self.first + 1


def parse_content_range(header: str | None, total: int) -> Piece | None:
    """The piece a request carries, or None for a status query (`bytes */TOTAL`)."""
    if header is None:
        return Piece(0, total - 1)
    text = header.strip()
    if (query := _STATUS_QUERY.fullmatch(text)) is not None:
        _check_total(query.group(1), total)
        return None
    match = _PIECE.fullmatch(text)
    if match is None:
        raise InvalidContentRange()
    first, last = int(match.group(1)), int(match.group(2))
    if match.group(3) != "*":
        _check_total(match.group(3), total)
    if last < first or last >= total:
        raise InvalidContentRange(f"The piece must lie within the {total} bytes of the upload.")
    return Piece(first, last)


def _check_total(value: str, total: int) -> None:
    if int(value) != total:
        raise InvalidContentRange(f"This upload is {total} bytes, not {value}.")


def _local_storage(request: Request) -> LocalStorage:
    storage = request.app.state.storage
    if not isinstance(storage, LocalStorage):
        raise NotFound()  # GCS hands out its own session URIs
    return storage


@router.put(
    "/upload/resumable",
    operation_id="uploadObjectPiece",
    status_code=200,
    responses={
        308: {"description": "Bytes still missing; `Range: bytes=0-N` says what arrived."},
        **error_responses(400, 403, 404, 409),
    },
    openapi_extra={"requestBody": {"required": False, "content": {"application/octet-stream": _BINARY}}},
    summary="Send a piece of a resumable upload, or ask how many bytes arrived",
)
async def upload_piece(
    request: Request,
    area: str,
    key: str,
    expires: int,
    size: Annotated[int, Query(ge=1)],
    signature: str,
    content_type: Annotated[str, Query(alias="contentType")],
) -> Response:
    storage = _local_storage(request)
    storage.signer.verify(resumable_fields(area, key, expires, content_type, size), signature)
    area_name = validate_area(area)
    piece = parse_content_range(request.headers.get("content-range"), size)
    factory: sessionmaker[Session] = request.app.state.session_factory
    if area_name == "raw":
        await anyio.to_thread.run_sync(_expect_upload, factory, key)
    if piece is None:
        return _incomplete(storage.resumable_offset(area_name, key))
    with storage.open_resumable(area_name, key) as part:
        if piece.first > part.size:
            return _error_with_range(UploadOffsetMismatch(), part.size)
        await _append_piece(request, part, piece)
        if part.size < size:
            return _incomplete(part.size)
        settings: Settings = request.app.state.settings
        status = await anyio.to_thread.run_sync(_finish, factory, storage, settings, area_name, key, part)
    body = {"key": key, "sizeBytes": size, "jobStatus": status}
    return JSONResponse(body, status_code=200)


async def _append_piece(request: Request, part: ResumablePart, piece: Piece) -> None:
    """Append the bytes of `piece` beyond those already held; keep every byte received even when
    the connection breaks."""
    skip = part.size - piece.first  # bytes of this piece the server already holds
    received = 0
    buffer = bytearray()
    try:
        async for chunk in request.stream():
            if received + len(chunk) > piece.length:
                raise InvalidContentRange("The body is longer than its Content-Range.")
            keep_from = max(0, skip - received)
            received += len(chunk)
            buffer += chunk[keep_from:]
            if len(buffer) >= CHUNK_BYTES:
                await _flush(part, buffer)
    except ClientDisconnect:
        await _flush(part, buffer)
        raise PieceInterrupted() from None
    await _flush(part, buffer)
    if received < piece.length:
        raise PieceInterrupted(f"Received {received} of the piece's {piece.length} bytes.")


async def _flush(part: ResumablePart, buffer: bytearray) -> None:
    if buffer:
        await anyio.to_thread.run_sync(part.write, bytes(buffer))
        buffer.clear()


def _incomplete(received: int) -> Response:
    headers = {"Range": f"bytes=0-{received - 1}"} if received else {}
    return Response(status_code=308, headers=headers)


def _error_with_range(error: AppError, received: int) -> JSONResponse:
    headers = {"Range": f"bytes=0-{received - 1}"} if received else {}
    return JSONResponse(error.to_dict(), status_code=error.status_code, headers=headers)


def _expect_upload(factory: sessionmaker[Session], key: str) -> None:
    with session_scope(factory) as session:
        videos_service.ensure_upload_expected(session, key)


def _finish(
    factory: sessionmaker[Session],
    storage: LocalStorage,
    settings: Settings,
    area: Area,
    key: str,
    part: ResumablePart,
) -> str | None:
    if area != "raw":
        part.finish()
        return None
    with session_scope(factory) as session:
        # Checked again under the job's lock: an upload that expired meanwhile is not revived.
        video = videos_service.ensure_upload_expected(session, key)
        part.finish()
        return str(videos_service.mark_upload_complete(session, video, storage, settings).status)
