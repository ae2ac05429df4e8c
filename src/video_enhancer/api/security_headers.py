"""Security headers on every response (pure ASGI middleware), and the API's documentation pages.

Every response carries `X-Content-Type-Options: nosniff`, so a browser never guesses a type
from content (a downloaded video is never run as a script). HTML responses carry a strict
`Content-Security-Policy` that allows nothing at all. The two documentation pages are the only
HTML that needs more: Swagger UI (`/docs`) and ReDoc (`/redoc`) load their bundles from a CDN and
start with an inline script, so each gets a policy naming exactly those sources and the hash of
that one script; nothing else anywhere is allowed to load.
"""

from __future__ import annotations

import base64
import hashlib
import re

from fastapi import FastAPI
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse
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


def install_docs_pages(app: FastAPI, docs_url: str = "/docs", redoc_url: str = "/redoc") -> dict[str, str]:
    """Serve Swagger UI and ReDoc (the app is created with `docs_url=None, redoc_url=None`) and
    return each page's Content-Security-Policy, keyed by path."""
    openapi_url = app.openapi_url or "/openapi.json"
    swagger = get_swagger_ui_html(openapi_url=openapi_url, title=f"{app.title} - Swagger UI")
    redoc = get_redoc_html(openapi_url=openapi_url, title=f"{app.title} - ReDoc")
    _add_page(app, docs_url, bytes(swagger.body))
    _add_page(app, redoc_url, bytes(redoc.body))
    return {
        docs_url: _page_policy(
            bytes(swagger.body), script=_CDN, style=f"{_CDN} 'unsafe-inline'", img=f"{_FAVICON} data:"
        ),
        redoc_url: _page_policy(
            bytes(redoc.body),
            script=_CDN,
            style="https://fonts.googleapis.com 'unsafe-inline'",
            img=f"{_FAVICON} https://cdn.redoc.ly data:",
            extra="font-src https://fonts.gstatic.com; worker-src blob:",
        ),
    }


def _add_page(app: FastAPI, path: str, html: bytes) -> None:
    async def page() -> HTMLResponse:
        return HTMLResponse(html)

    app.add_api_route(path, page, methods=["GET"], include_in_schema=False)


def _page_policy(html: bytes, *, script: str, style: str, img: str, extra: str = "") -> str:
    # Inline styles are allowed on these two pages only: both UIs set style attributes at run
    # time, and a style cannot run code. Scripts stay pinned to the CDN and the page's own hash.
    hashes = "".join(f" 'sha256-{_sha256(body)}'" for body in _INLINE_SCRIPT.findall(html))
    parts = [
        "default-src 'none'",
        f"script-src {script}{hashes}",
        f"style-src {style}",
        f"img-src {img}",
        "connect-src 'self'",
        *([extra] if extra else []),
        "base-uri 'none'",
        "form-action 'none'",
        "frame-ancestors 'none'",
    ]
    return "; ".join(parts)


def _sha256(body: bytes) -> str:
    return base64.b64encode(hashlib.sha256(body).digest()).decode("ascii")
