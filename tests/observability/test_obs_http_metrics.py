"""Request counters and latency histograms after real requests through the application."""

from __future__ import annotations

import uuid

from fastapi import FastAPI
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from video_enhancer.observability.middleware import UNMATCHED_ROUTE

from .scrape import metric_value


def _count(client: TestClient, route: str, status: str, method: str = "GET") -> float:
    labels = {"method": method, "route": route, "status": status}
    return metric_value(client, "ve_http_requests_total", labels) or 0.0


def test_requests_are_counted_by_route_template_not_raw_path(client: TestClient) -> None:
    before = _count(client, "/jobs/{jobId}", "401")
    for _ in range(3):
        assert client.get(f"/jobs/{uuid.uuid4()}").status_code == 401
    assert _count(client, "/jobs/{jobId}", "401") == before + 3
    exposition = client.get("/metrics").text
    assert "/jobs/" + "0" not in exposition.replace("/jobs/{jobId}", "")  # no raw ids as labels


def test_latency_histogram_observes_each_request(client: TestClient) -> None:
    labels = {"method": "GET", "route": "/healthz", "status": "200"}
    before = metric_value(client, "ve_http_request_duration_seconds_count", labels) or 0.0
    before_sum = metric_value(client, "ve_http_request_duration_seconds_sum", labels) or 0.0
    assert client.get("/healthz").json() == {"status": "ok"}
    assert metric_value(client, "ve_http_request_duration_seconds_count", labels) == before + 1
    assert (metric_value(client, "ve_http_request_duration_seconds_sum", labels) or 0.0) > before_sum
    inf_bucket = metric_value(client, "ve_http_request_duration_seconds_bucket", {**labels, "le": "+Inf"})
    assert inf_bucket == before + 1


def test_unmatched_paths_share_one_label(client: TestClient) -> None:
    before = _count(client, UNMATCHED_ROUTE, "404")
    paths = [f"/no-such-thing/{uuid.uuid4()}?signature=abc" for _ in range(2)]
    for path in paths:
        assert client.get(path).status_code == 404
    assert _count(client, UNMATCHED_ROUTE, "404") == before + 2
    exposition = client.get("/metrics").text
    assert "no-such-thing" not in exposition and "signature" not in exposition


def test_unhandled_error_is_counted_as_500(app: FastAPI, client: TestClient) -> None:
    @app.get("/__test__/boom/{item}")
    def boom(item: str) -> None:
        raise RuntimeError("boom")

    before = _count(client, "/__test__/boom/{item}", "500")
    response = client.get("/__test__/boom/x")
    assert response.status_code == 500
    assert response.json()["error"]["code"] == "INTERNAL_ERROR"
    assert _count(client, "/__test__/boom/{item}", "500") == before + 1


def test_metrics_endpoint_is_prometheus_text(client: TestClient) -> None:
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    names = {family.name for family in text_string_to_metric_families(response.text)}
    for expected in (
        "ve_http_requests",
        "ve_http_request_duration_seconds",
        "ve_queue_depth",
        "ve_database_up",
    ):
        assert expected in names
    assert "/metrics" not in client.get("/openapi.json").json()["paths"]
