"""The request id: taken from `X-Request-ID` (when short and printable) or made, bound to the logs
of the request, and returned on the response. A pure ASGI middleware: unlike Starlette's
`BaseHTTPMiddleware` it does not copy streamed bodies (event streams, downloads) through a queue.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable

from starlette.datastructures import Headers, MutableHeaders
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from video_enhancer.logging import request_id_var

logger = logging.getLogger(__name__)

MAX_LENGTH = 64


def request_id_of(scope: Scope) -> str:
    incoming = Headers(scope=scope).get("x-request-id", "")
    return incoming if 0 < len(incoming) <= MAX_LENGTH and incoming.isprintable() else uuid.uuid4().hex


class RequestIdMiddleware:
    def __init__(self, app: ASGIApp, on_error: Callable[[Exception], Response]) -> None:
        self.app = app
        self.on_error = on_error

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = request_id_of(scope)
        token = request_id_var.set(request_id)
        started = False

        async def send_with_id(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                MutableHeaders(scope=message)["X-Request-ID"] = request_id
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except Exception as exc:
            if started:  # the response is on its way: nothing better can be sent now
                raise
            # Handled here, so that both the log line and the 500 response carry the request id.
            await self.on_error(exc)(scope, receive, send_with_id)
        finally:
            request_id_var.reset(token)
