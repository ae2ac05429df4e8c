"""Reading one sample of the API's `/metrics`."""

from __future__ import annotations

from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families


def metric_value(client: TestClient, name: str, labels: dict[str, str] | None = None) -> float | None:
    """The value of one sample of `/metrics`, or None when that sample is not exposed."""
    wanted = labels or {}
    response = client.get("/metrics")
    assert response.status_code == 200, response.text
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in wanted.items()):
                return float(sample.value)
    return None
