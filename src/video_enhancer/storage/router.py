"""The endpoint behind the local backend's signed download URLs: streamed, ranged downloads.

Infrastructure only: it knows objects, not videos. The signed upload endpoint finishes a video's
upload, so it lives in the videos domain (`videos.uploads`).
"""

from __future__ import annotations

import mimetypes
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse

from video_enhancer.api.schemas import ErrorResponse, error_responses
from video_enhancer.errors import AppError
from video_enhancer.storage.base import ObjectNotFound
from video_enhancer.storage.local import download_fields, require_local, validate_area

router = APIRouter()


_RANGE = re.compile(r"bytes=(\d*)-(\d*)")
# 18 digits reach an exabyte; more cannot name a byte of any object, and converting thousands
# of digits to an int is refused by Python itself (the 500 this bound prevents).
_MAX_RANGE_DIGITS = 18
_BINARY = {"schema": {"type": "string", "format": "binary"}}
_MEDIA = {"video/*": _BINARY, "application/octet-stream": _BINARY}


_DOWNLOAD_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"description": "The whole object.", "content": _MEDIA},
    206: {"description": "The requested byte range.", "content": _MEDIA},
    416: {"description": "Range not satisfiable (RANGE_NOT_SATISFIABLE).", "model": ErrorResponse},
    **error_responses(400, 403, 404, 503),
}


@router.get(
    "/download",
    operation_id="downloadObject",
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
    operation_id="headObject",
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
    storage = require_local(request.app.state.storage)
    storage.signer.verify(
        download_fields(wanted.area, wanted.key, wanted.expires, wanted.filename), wanted.signature
    )
    area_name = validate_area(wanted.area)
    total = storage.size(area_name, wanted.key)
    if total is None:
        raise ObjectNotFound()
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
