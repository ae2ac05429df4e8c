"""Security headers on every response (pure ASGI middleware).

Every response carries `X-Content-Type-Options: nosniff`, so a browser never guesses a type
from content (a downloaded video is never run as a script). HTML responses carry a strict
`Content-Security-Policy` that allows nothing at all, unless the page set its own: the web
client (`/`) and the API documentation (`/docs`, Swagger UI from local assets) each allow exactly
what they load, from this origin only (`video_enhancer.web`).
"""

from __future__ import annotations

import re

from starlette.types import ASGIApp, Message, Receive, Scope, Send

STRICT_HTML_POLICY = "default-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
_CDN = "https://cdn.jsdelivr.net"
_FAVICON = "https://fastapi.tiangolo.com"
_INLINE_SCRIPT = re.compile(rb"<script>(.*?)</script>", re.DOTALL)


class SecurityHeadersMiddleware:
    def __init__(self, app: ASGIApp, page_policies: dict[str, str] | None = None) -> None:
        self.app = app
        self.page_policies = page_policies or {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        policy = self.page_policies.get(str(scope["path"]), STRICT_HTML_POLICY).encode("latin-1")

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = _secured(list(message.get("headers", ())), policy)
            await send(message)

        await self.app(scope, receive, send_with_headers)


def _secured(headers: list[tuple[bytes, bytes]], policy: bytes) -> list[tuple[bytes, bytes]]:
    names = {bytes(name).lower() for name, _ in headers}
    if b"x-content-type-options" not in names:
        headers.append((b"x-content-type-options", b"nosniff"))
    types = [bytes(value).lower() for name, value in headers if bytes(name).lower() == b"content-type"]
    if types and types[0].startswith(b"text/html") and b"content-security-policy" not in names:
        headers.append((b"content-security-policy", policy))
    return headers
