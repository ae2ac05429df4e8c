"""Per-request metrics and the access log line, as one pure ASGI middleware.

Pure ASGI (not `BaseHTTPMiddleware`) so streamed downloads pass through untouched. The route
label is the matched route's path template (`/videos/{videoId}`), never the raw path, so label
cardinality stays bounded whatever clients send; requests that match no route count as
`unmatched`. The access log line carries no query string: signed URLs put their signature there.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from video_enhancer.logging import LogContext, log_context_var, request_id_var
from video_enhancer.observability.metrics import HTTP_LATENCY, HTTP_REQUESTS

access_logger = logging.getLogger("video_enhancer.access")

UNMATCHED_ROUTE = "unmatched"
# Probes and scrapes arrive every few seconds; their lines go to DEBUG so they do not bury traffic.
QUIET_ROUTES = frozenset({"/metrics", "/healthz", "/readyz"})


def route_template(scope: Scope) -> str:
    """The matched route's full path template, e.g. `/jobs/{jobId}`; `unmatched` when none matched.

    FastAPI keeps a route included under a prefix as the router declared it (`/{jobId}`) and
    records the effective, prefixed route in its own scope entry; that entry is read first (the
    metrics tests pin it). Without it the prefix is recovered from the request path: the part
    before the shortest tail that the route's own pattern matches.
    """
    effective = scope.get("fastapi", {}).get("effective_route_context")
    template = getattr(effective, "path_format", None)
    if template:
        return str(template)
    route = scope.get("route")
    template = getattr(route, "path_format", None)
    if not template:
        return UNMATCHED_ROUTE
    return _with_prefix(str(scope.get("path", "")), route, str(template))


def _with_prefix(path: str, route: Any, template: str) -> str:
    pattern = getattr(route, "path_regex", None)
    if pattern is None:
        return template
    starts = [index for index, char in enumerate(path) if char == "/"]
    for start in reversed(starts):
        if pattern.match(path[start:]):
            return path[:start] + template
    return template


class ObservabilityMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        context = LogContext()
        token = log_context_var.set(context)
        status = 500  # what the client gets when the app raises before sending a response
        response_request_id: str | None = None

        async def send_with_status(message: Message) -> None:
            nonlocal status, response_request_id
            if message["type"] == "http.response.start":
                status = int(message["status"])
                response_request_id = _header(message, b"x-request-id")
            await send(message)

        try:
            await self.app(scope, receive, send_with_status)
        finally:
            _record(scope, status, time.perf_counter() - started, response_request_id)
            log_context_var.reset(token)


def _header(message: Message, name: bytes) -> str | None:
    for key, value in message.get("headers", ()):
        if key.lower() == name:
            return bytes(value).decode("latin-1")
    return None


# The labelled children of the two request metrics, by (method, route, status): looked up here
# instead of through `labels()` on every request. Bounded: routes are templates, and the server
# only passes methods it knows; past the bound, `labels()` is asked each time.
_SERIES: dict[tuple[str, str, int], tuple[Any, Any]] = {}
_MAX_SERIES = 2000


def _series(method: str, route: str, status: int) -> tuple[Any, Any]:
    key = (method, route, status)
    series = _SERIES.get(key)
    if series is None:
        labels = {"method": method, "route": route, "status": str(status)}
        series = (HTTP_REQUESTS.labels(**labels), HTTP_LATENCY.labels(**labels))
        if len(_SERIES) < _MAX_SERIES:
            _SERIES[key] = series
    return series


def _record(scope: Scope, status: int, seconds: float, response_request_id: str | None) -> None:
    method = str(scope.get("method", "GET"))
    route = route_template(scope)
    requests, latency = _series(method, route, status)
    requests.inc()
    latency.observe(seconds)
    level = logging.DEBUG if route in QUIET_ROUTES and status < 500 else logging.INFO
    access_logger.log(
        level,
        "%s %s %d",
        method,
        route,
        status,
        extra={
            "event": "http_request",
            "method": method,
            "route": route,
            "path": scope.get("path", ""),  # the path only: the query string may hold a signature
            "status": status,
            "duration_ms": round(seconds * 1000, 2),
            # The formatter adds request_id and user_id from the context; this covers a request-id
            # middleware installed outside this one, whose context variable is not visible here.
            **(
                {"request_id": response_request_id}
                if request_id_var.get() is None and response_request_id
                else {}
            ),
        },
    )
