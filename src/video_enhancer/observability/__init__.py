"""Metrics, health and readiness, access logs: what an on-call engineer looks at.

`install_observability(app)` wires the API side; the worker calls
`worker_http.start_worker_http_server(port, readiness)`.
"""

from __future__ import annotations

from fastapi import FastAPI
from prometheus_client import CollectorRegistry

from video_enhancer.observability.collectors import QueueCollector
from video_enhancer.observability.enhancer_wait import EnhancerWaitCollector
from video_enhancer.observability.middleware import ObservabilityMiddleware
from video_enhancer.observability.router import router

__all__ = ["install_observability"]


def install_observability(app: FastAPI) -> None:
    """Add the metrics/access-log middleware, `/healthz`, `/readyz` and `/metrics` to the API.

    Needs `app.state.engine` and `app.state.storage`. The database gauges live in a registry of
    this app (not the process-wide one), so each app reads its own database: tests create many.
    """
    registry = CollectorRegistry(auto_describe=True)
    registry.register(QueueCollector(app.state.engine))
    registry.register(EnhancerWaitCollector(app.state.engine, app.state.settings))
    app.state.metrics_registry = registry
    app.add_middleware(ObservabilityMiddleware)
    app.include_router(router, tags=["operations"])
