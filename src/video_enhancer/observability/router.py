"""Operator endpoints of the API: `/healthz`, `/readyz` and `/metrics`.

They are left out of the OpenAPI document: they are for probes and Prometheus, not for the app.
"""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest
from pydantic import BaseModel

from video_enhancer.observability.readiness import enhancer_details, run_readiness_checks

router = APIRouter(include_in_schema=False)


class Health(BaseModel):
    status: Literal["ok"] = "ok"


@router.get("/healthz")
async def healthz() -> Health:
    """The process is alive and serving (liveness: no dependency is checked)."""
    return Health()


@router.get("/readyz")
def readyz(request: Request) -> JSONResponse:
    """200 when the database, storage and schema are all usable; 503 naming each failing check.

    `enhancer` names what the workers are configured to run (informational: not a check).
    """
    results = run_readiness_checks(request.app.state.engine, request.app.state.storage)
    ready = all(result.ok for result in results.values())
    body = {
        "status": "ready" if ready else "not_ready",
        "checks": {name: result.as_dict() for name, result in results.items()},
        "enhancer": enhancer_details(request.app.state.settings),
    }
    return JSONResponse(body, status_code=200 if ready else 503)


@router.get("/metrics")
def metrics(request: Request) -> Response:
    """Prometheus text exposition: process-wide metrics, then this app's database gauges."""
    app_registry: CollectorRegistry = request.app.state.metrics_registry
    payload = generate_latest(REGISTRY) + generate_latest(app_registry)
    return Response(payload, media_type=CONTENT_TYPE_LATEST)
