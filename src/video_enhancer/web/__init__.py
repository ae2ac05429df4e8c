"""The web client: static files served at `/`, and Swagger UI's assets served locally for `/docs`.

The page is plain JavaScript modules and CSS (no build step) that use only the public API. Every
answer from here carries a strict Content-Security-Policy: nothing inline, nothing from elsewhere.
"""

from __future__ import annotations

from collections.abc import MutableMapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse
from starlette.staticfiles import StaticFiles
from starlette.types import Receive, Scope, Send

from video_enhancer.config import Settings

STATIC_DIR = Path(__file__).parent / "static"
GCS_ORIGIN = "https://storage.googleapis.com"


def content_security_policy(settings: Settings) -> str:
    """Nothing inline and nothing from elsewhere, except where signed URLs point: the public base
    URL (local storage, when the page is opened under another name) and GCS."""
    storage = " ".join(_storage_origins(settings))
    return (
        (
            f"default-src 'self'; img-src 'self' data: blob: {storage}; media-src 'self' blob: {storage}; "
            f"connect-src 'self' {storage}; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
        )
        .replace("  ", " ")
        .replace(" ;", ";")
    )


def _storage_origins(settings: Settings) -> list[str]:
    origins = [_origin(settings.public_base_url)]
    if settings.storage == "gcs":
        origins.append(_origin(settings.gcs_endpoint) if settings.gcs_endpoint else GCS_ORIGIN)
    return sorted({origin for origin in origins if origin})


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else ""


class _StrictStaticFiles(StaticFiles):
    """Static files with the page's Content-Security-Policy and revalidation on every load."""

    def __init__(self, *, directory: Path, headers: dict[str, str]) -> None:
        super().__init__(directory=directory)
        self._extra_headers = [(name.lower().encode(), value.encode()) for name, value in headers.items()]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def send_with_headers(message: MutableMapping[str, Any]) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *self._extra_headers]
            await send(message)

        await super().__call__(scope, receive, send_with_headers)


def install_web_client(app: FastAPI, settings: Settings) -> None:
    """`/` (the page), `/static/...` (its modules and styles) and `/docs` with local assets."""
    headers = {"Content-Security-Policy": content_security_policy(settings), "Cache-Control": "no-cache"}
    app.mount("/static", _StrictStaticFiles(directory=STATIC_DIR, headers=headers), name="web-static")
    _install_swagger_assets(app)

    @app.get("/", include_in_schema=False)
    def index() -> FileResponse:
        return FileResponse(STATIC_DIR / "index.html", media_type="text/html", headers=headers)


def _install_swagger_assets(app: FastAPI) -> None:
    """Swagger UI from the `swagger-ui-bundle` package rather than a CDN."""
    from swagger_ui_bundle import swagger_ui_path

    app.mount("/docs-assets", StaticFiles(directory=swagger_ui_path), name="docs-assets")

    @app.get("/docs", include_in_schema=False)
    def docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=app.openapi_url or "/openapi.json",
            title=f"{app.title} - docs",
            swagger_js_url="/docs-assets/swagger-ui-bundle.js",
            swagger_css_url="/docs-assets/swagger-ui.css",
            swagger_favicon_url="/docs-assets/favicon-32x32.png",
        )
