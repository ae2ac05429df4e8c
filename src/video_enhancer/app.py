"""The FastAPI application factory."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse
from sqlalchemy import Engine
from starlette.exceptions import HTTPException as StarletteHTTPException

from video_enhancer import __version__
from video_enhancer.admin.router import router as admin_router
from video_enhancer.api.body_limit import BodySizeLimitMiddleware
from video_enhancer.api.client_ip import TrustedProxyMiddleware
from video_enhancer.api.request_id import RequestIdMiddleware
from video_enhancer.api.schemas import operation_id_of
from video_enhancer.api.security_headers import SecurityHeadersMiddleware
from video_enhancer.api.sessions import RequestSessions
from video_enhancer.auth.email_router import router as account_email_router
from video_enhancer.auth.passwords import warm_up
from video_enhancer.auth.router import router as auth_router
from video_enhancer.batches.router import router as batches_router
from video_enhancer.catalogue.router import router as enhancers_router
from video_enhancer.config import Settings, get_settings
from video_enhancer.db import make_engine, make_session_factory
from video_enhancer.errors import AppError, NotFound, RateLimited, Unauthorized
from video_enhancer.events.broker import EventBroker
from video_enhancer.events.router import router as events_router
from video_enhancer.events.schemas import EventOut
from video_enhancer.jobs.router import router as jobs_router
from video_enhancer.logging import configure_logging
from video_enhancer.observability import install_observability
from video_enhancer.observability.readiness import log_enhancer_choice
from video_enhancer.storage.base import Storage
from video_enhancer.storage.factory import make_storage
from video_enhancer.storage.router import router as storage_router
from video_enhancer.users.router import router as users_router
from video_enhancer.videos.resumable_uploads import router as resumable_upload_router
from video_enhancer.videos.router import router as videos_router
from video_enhancer.videos.uploads import router as uploads_router
from video_enhancer.web import install_web_client
from video_enhancer.webhooks.router import router as webhooks_router

logger = logging.getLogger(__name__)

_HTTP_CODES = {
    400: "INVALID_INPUT",
    401: "NOT_AUTHENTICATED",
    403: "FORBIDDEN",
    404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    409: "CONFLICT",
    413: "UPLOAD_TOO_LARGE",
    415: "UNSUPPORTED_MEDIA_TYPE",
    416: "RANGE_NOT_SATISFIABLE",
    429: "RATE_LIMITED",
}
# Admin routes answer anyone but an admin exactly as a path that does not exist would (404,
# same body), whatever the method or a trailing slash: they do not reveal that they exist.
_ADMIN_PREFIX = "/admin"


def _error(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message}}, status_code=status, headers=headers)


def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(AppError)
    async def _app_error(_request: Request, exc: AppError) -> JSONResponse:
        headers: dict[str, str] | None = None
        if isinstance(exc, RateLimited):
            headers = {"Retry-After": str(exc.retry_after)}
        elif isinstance(exc, Unauthorized):
            headers = {"WWW-Authenticate": "Bearer"}  # RFC 6750
        if exc.status_code >= 500:
            logger.error("service error", extra={"code": exc.code})
        return _error(exc.status_code, exc.code, exc.message, headers)

    @app.exception_handler(RequestValidationError)
    async def _validation_error(_request: Request, exc: RequestValidationError) -> JSONResponse:
        return _error(422, "VALIDATION_ERROR", _first_validation_message(exc))

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        if exc.status_code == 404 or (exc.status_code == 405 and _is_admin_path(request.url.path)):
            return _error(404, NotFound.default_code, NotFound.default_message)
        code = getattr(exc, "code", None) or _HTTP_CODES.get(exc.status_code, "HTTP_ERROR")
        return _error(exc.status_code, code, str(exc.detail), dict(exc.headers or {}))

    @app.exception_handler(Exception)
    async def _unexpected(_request: Request, exc: Exception) -> JSONResponse:
        return _unexpected_error(exc)


def _first_validation_message(exc: RequestValidationError) -> str:
    # Only the first error is rendered; the body limit keeps the list itself short.
    errors = exc.errors()
    first = errors[0] if errors else {}
    where = ".".join(str(part) for part in first.get("loc", ()))
    return f"{where}: {first.get('msg', 'invalid value')}" if where else "Invalid request."


def _is_admin_path(path: str) -> bool:
    return path == _ADMIN_PREFIX or path.startswith(_ADMIN_PREFIX + "/")


def _unexpected_error(exc: Exception) -> JSONResponse:
    logger.exception("unhandled error", exc_info=exc)
    return _error(500, "INTERNAL_ERROR", "An unexpected error occurred.")


def _install_request_id(app: FastAPI) -> None:
    app.add_middleware(RequestIdMiddleware, on_error=_unexpected_error)


def _install_cors(app: FastAPI, origins: list[str]) -> None:
    """Let browser clients on these origins call the API; installed last, so it runs first and
    answers preflights before any other middleware. Bearer tokens, not cookies: no credentials."""
    if not origins:
        return
    app.add_middleware(
        CORSMiddleware,
        allow_origins=origins,
        allow_methods=["GET", "POST", "PUT", "DELETE"],
        allow_headers=[
            "Authorization",
            "Content-Type",
            "X-Request-ID",
            "Last-Event-ID",
            "Idempotency-Key",
            "Content-Range",
        ],
        expose_headers=[
            "X-Request-ID",
            "Retry-After",
            "Content-Range",
            "Content-Disposition",
            "Range",
            "Idempotent-Replayed",
        ],
        max_age=600,
    )


def _document_webhook_payloads(app: FastAPI) -> None:
    """OpenAPI `webhooks`: what a receiver gets, the same JSON as the stream's `data:`."""

    # A receiver answers 2xx to acknowledge; any other status is retried (docs/events.md).
    acknowledged: dict[int | str, dict[str, Any]] = {
        200: {"description": "Any 2xx acknowledges the delivery."}
    }

    @app.webhooks.post(
        "job-event",
        operation_id="receiveEvent",
        summary="An event of the event log",
        responses={**acknowledged, 422: {"description": "Refused; the delivery is retried."}},
    )
    def _job_event(body: EventOut) -> None:
        """Headers `webhook-id`, `webhook-timestamp` and `webhook-signature` (Standard Webhooks)."""


def _install_outer_guards(app: FastAPI, settings: Settings) -> None:
    """Pure ASGI middleware around everything else (the last added runs first): the proxy
    rewrite first, so logs and rate limits see the real client; the headers on every response."""
    app.add_middleware(SecurityHeadersMiddleware)
    app.add_middleware(TrustedProxyMiddleware, trusted=settings.trusted_proxies)


def create_app(
    settings: Settings | None = None, *, engine: Engine | None = None, storage: Storage | None = None
) -> FastAPI:
    settings = settings or get_settings()
    configure_logging(settings.log_level)
    engine = engine or make_engine(settings.database_url, pool_size=settings.db_pool_size)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        # Hash the dummy password once at start-up so the first unknown-email login takes no longer
        # than a known one (logins must not reveal which emails exist).
        await asyncio.to_thread(warm_up, settings.bcrypt_rounds)
        log_enhancer_choice(settings)
        broker = app.state.event_broker = EventBroker(
            app.state.session_factory, settings.database_url, settings.event_poll_seconds
        )
        await broker.start()
        try:
            yield
        finally:
            await broker.stop()  # open event streams end, so shutdown is not held up by them
            await app.state.request_sessions.close()
            engine.dispose()

    app = FastAPI(
        title="Video Enhancer API",
        version=__version__,
        description="Upload a phone video, get back an enhanced, x4 super-resolved version.",
        lifespan=lifespan,
        generate_unique_id_function=operation_id_of,
        docs_url=None,  # served by install_web_client with local assets, not a CDN
        redoc_url=None,
        redirect_slashes=False,  # a redirect would tell which paths exist (e.g. `/admin/stats/`)
    )
    app.state.settings = settings
    app.state.engine = engine
    app.state.session_factory = make_session_factory(engine)
    app.state.request_sessions = RequestSessions.for_engine(engine, settings.db_pool_size)
    app.state.storage = storage or make_storage(settings)

    _install_error_handlers(app)
    # Inside the request id and the access log, so a refused body is logged like any request.
    app.add_middleware(BodySizeLimitMiddleware, max_bytes=settings.max_json_body_bytes)
    # Installed first so it runs inside the request-id middleware: access logs carry the id.
    install_observability(app)
    _install_request_id(app)
    _install_outer_guards(app, settings)
    _install_cors(app, settings.cors_origins)
    # Routes are matched in the order they are included: what apps poll goes first (matching the
    # routers ahead of it cost a poll about a fifth of its time). No two routers share a prefix
    # here, so the order changes nothing else.
    app.include_router(jobs_router, prefix="/jobs", tags=["jobs"])
    app.include_router(videos_router, prefix="/videos", tags=["videos"])
    app.include_router(auth_router, prefix="/auth", tags=["auth"])
    app.include_router(account_email_router, prefix="/auth", tags=["auth"])
    app.include_router(users_router, prefix="/users", tags=["users"])
    app.include_router(enhancers_router, prefix="/enhancers", tags=["enhancers"])
    app.include_router(batches_router, prefix="/batches", tags=["batches"])
    app.include_router(events_router, tags=["events"])
    app.include_router(webhooks_router, prefix="/webhooks", tags=["webhooks"])
    _document_webhook_payloads(app)
    app.include_router(uploads_router, prefix="/storage", tags=["storage"])
    app.include_router(storage_router, prefix="/storage", tags=["storage"])
    app.include_router(resumable_upload_router, prefix="/storage", tags=["storage"])
    app.include_router(admin_router, tags=["admin"])
    install_web_client(app, settings)
    return app
