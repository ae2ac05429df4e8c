"""A cap on request bodies, checked before anything parses them (pure ASGI middleware).

A JSON body is read whole and validated on the event loop; a 12 MB body of a million keys once
froze every request for seconds. This middleware refuses a body larger than the limit before the
application sees a byte of it: at once when `Content-Length` announces it, else as soon as the
streamed bytes pass the limit. Uploads through signed URLs (`/storage/...`) stream to disk and
enforce their own signed size, so they are left alone.
"""

from __future__ import annotations

import json

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

BODY_TOO_LARGE = "BODY_TOO_LARGE"
STREAMED_UPLOAD_PREFIXES = ("/storage/",)


class BodyTooLarge(HTTPException):
    """Raised from `receive` when a streamed body passes the limit; rendered as the error shape."""

    code = BODY_TOO_LARGE

    def __init__(self, limit: int) -> None:
        super().__init__(413, too_large_message(limit))


def too_large_message(limit: int) -> str:
    return f"The request body is larger than {limit} bytes."


class BodySizeLimitMiddleware:
    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or str(scope["path"]).startswith(STREAMED_UPLOAD_PREFIXES):
            await self.app(scope, receive, send)
            return
        declared = _content_length(scope)
        if declared is not None and declared > self.max_bytes:
            await _send_too_large(send, self.max_bytes)
            return
        await self.app(scope, _counting(receive, self.max_bytes), send)


def _content_length(scope: Scope) -> int | None:
    """The declared length; None when absent or malformed (the server refuses a malformed one)."""
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            raw = bytes(value)
            if not raw.isdigit():
                return None
            return int(raw) if len(raw) <= 18 else 10**18  # bounded: no 5000-digit int()
    return None


def _counting(receive: Receive, limit: int) -> Receive:
    received = 0

    async def receive_counted() -> Message:
        nonlocal received
        message = await receive()
        if message["type"] == "http.request":
            received += len(message.get("body", b""))
            if received > limit:
                raise BodyTooLarge(limit)
        return message

    return receive_counted


async def _send_too_large(send: Send, limit: int) -> None:
    error = {"error": {"code": BODY_TOO_LARGE, "message": too_large_message(limit)}}
    body = json.dumps(error, separators=(",", ":")).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    # The unread body stays on the connection; closing it is cheaper than draining megabytes.
    headers.append((b"connection", b"close"))
    await send({"type": "http.response.start", "status": 413, "headers": headers})
    await send({"type": "http.response.body", "body": body})
