"""The worker's small HTTP server: `/metrics`, `/healthz` and `/readyz` on `VE_WORKER_METRICS_PORT`.

A worker has no web framework, so this is the standard library's threading HTTP server on a
daemon thread: scrapes and probes never wait for a job, and a job never waits for a scrape.

* `/healthz` answers 200 while the process is alive (liveness).
* `/readyz` answers 200 only when `readiness()` is true; the worker reports false while its model
  loads, so an orchestrator does not count it as capacity yet.
* `/metrics` is the Prometheus exposition of the process registry, with the GPU collector
  (NVML, when present) registered on first start.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar

from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest

from video_enhancer.observability.gpu import register_gpu_collector, torch_gpu_details

logger = logging.getLogger(__name__)

Readiness = Callable[[], bool]


class WorkerHttpServer(ThreadingHTTPServer):
    """A threading HTTP server that knows its readiness callback and registry."""

    daemon_threads = True

    def __init__(self, host: str, port: int, readiness: Readiness, registry: CollectorRegistry) -> None:
        super().__init__((host, port), _Handler)
        self.readiness = readiness
        self.registry = registry
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return int(self.server_address[1])

    def start(self) -> None:
        self._thread = threading.Thread(target=self.serve_forever, name="worker-http", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop serving and release the port (safe to call twice)."""
        if self._thread is not None:
            self.shutdown()
            self._thread.join(timeout=5)
            self._thread = None
        self.server_close()


class _Handler(BaseHTTPRequestHandler):
    server: WorkerHttpServer
    _ROUTES: ClassVar[dict[str, str]] = {"/metrics": "_metrics", "/healthz": "_healthz", "/readyz": "_readyz"}

    def do_GET(self) -> None:
        handler = self._ROUTES.get(self.path.split("?", 1)[0])
        if handler is None:
            self._send(404, b'{"error": {"code": "NOT_FOUND", "message": "Not found."}}', "application/json")
            return
        getattr(self, handler)()

    def _metrics(self) -> None:
        self._send(200, generate_latest(self.server.registry), CONTENT_TYPE_LATEST)

    def _healthz(self) -> None:
        self._send_json(200, {"status": "ok"})

    def _readyz(self) -> None:
        try:
            ready = bool(self.server.readiness())
        except Exception:  # a broken callback must read as "not ready", not kill the probe
            logger.exception("worker readiness check raised")
            ready = False
        body = {"status": "ready" if ready else "not_ready", "gpu": torch_gpu_details()}
        self._send_json(200 if ready else 503, body)

    def _send_json(self, status: int, body: dict[str, Any]) -> None:
        self._send(status, json.dumps(body).encode(), "application/json")

    def _send(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        # Probes every few seconds would drown the job logs; scrapes are visible in Prometheus.
        return


def start_worker_http_server(
    port: int,
    readiness: Readiness,
    *,
    host: str = "127.0.0.1",
    registry: CollectorRegistry = REGISTRY,
) -> WorkerHttpServer:
    """Serve `/metrics`, `/healthz`, `/readyz` on a daemon thread and return the running server.

    `port=0` picks a free port (tests); read it back from `server.port`. Call `server.stop()` on
    shutdown.
    """
    register_gpu_collector(registry)
    server = WorkerHttpServer(host, port, readiness, registry)
    server.start()
    logger.info("worker http server listening", extra={"port": server.port})
    return server
