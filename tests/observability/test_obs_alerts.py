"""`deploy/alerts.yml` is valid, and every metric it names is one the code really exposes."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import urllib.request
import uuid
from pathlib import Path
from typing import Any

import pytest
import yaml
from fastapi.testclient import TestClient
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.metrics import MetricWrapperBase
from prometheus_client.parser import text_string_to_metric_families

from video_enhancer.observability import metrics
from video_enhancer.observability.gpu import GpuCollector
from video_enhancer.observability.worker_http import start_worker_http_server

from .test_obs_worker_http import _FakeNvml

ALERTS = Path(__file__).resolve().parents[2] / "deploy" / "alerts.yml"
PROMETHEUS_SERIES = {"up"}  # written by Prometheus itself for every scrape target
TARGET_LABELS = {"job", "instance"}  # added by Prometheus to every scraped series
JOB_NAMES = {"video-enhancer-api", "video-enhancer-worker"}

_KEYWORDS = {
    "by",
    "without",
    "on",
    "ignoring",
    "group_left",
    "group_right",
    "and",
    "or",
    "unless",
    "bool",
    "offset",
}
_SELECTOR = re.compile(r"([a-zA-Z_:][a-zA-Z0-9_:]*)\s*\{([^}]*)\}")
_IDENTIFIER = re.compile(r"(?<![\w.])([a-zA-Z_:][a-zA-Z0-9_:]*)(?!\w)\s*(\()?")
_GROUPING = re.compile(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)")
_MATCHER_OPERATOR = re.compile(r"=~|!~|!=|=")
PROBE_ROUTES = ("/healthz", "/readyz", "/metrics")


def _rules() -> list[dict[str, Any]]:
    document = yaml.safe_load(ALERTS.read_text())
    return [rule for group in document["groups"] for rule in group["rules"]]


def metric_names(expr: str) -> set[str]:
    """Metric names in a PromQL expression: identifiers that are not functions, keywords or labels."""
    text = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)
    text = re.sub(r"\{[^}]*\}", "", text)
    text = re.sub(r"\[[^\]]*\]", "", text)
    text = _GROUPING.sub("", text)
    names = set()
    for match in _IDENTIFIER.finditer(text):
        name, call = match.group(1), match.group(2)
        if call is None and name not in _KEYWORDS:
            names.add(name)
    return names


def selector_labels(expr: str) -> dict[str, set[str]]:
    labels: dict[str, set[str]] = {}
    for name, body in _SELECTOR.findall(expr):
        keys = {_MATCHER_OPERATOR.split(part)[0].strip() for part in body.split(",") if part.strip()}
        labels.setdefault(name, set()).update(keys)
    return labels


def _exposed(text: str, into: dict[str, set[str]]) -> None:
    """Add every series name in an exposition (with the label names seen) to `into`."""
    suffixes = {
        "counter": ["_total"],
        "histogram": ["_bucket", "_count", "_sum"],
        "summary": ["_count", "_sum"],
    }
    for family in text_string_to_metric_families(text):
        for name in [family.name] + [family.name + s for s in suffixes.get(family.type, [])]:
            into.setdefault(name, set())
        for sample in family.samples:
            into.setdefault(sample.name, set()).update(sample.labels)


def _declared_labels(series: dict[str, set[str]]) -> None:
    """Label names of the shared metric objects: a labelled counter shows none before its first use."""
    for metric in vars(metrics).values():
        if isinstance(metric, MetricWrapperBase):
            for name in series:
                if name == metric._name or name.startswith(metric._name + "_"):
                    series[name].update(metric._labelnames)


@pytest.fixture
def exposed_series(client: TestClient) -> dict[str, set[str]]:
    """Series of the API after real requests, of a running worker server, and of the GPU collector."""
    client.get("/healthz")
    client.get("/readyz")
    client.get(f"/jobs/{uuid.uuid4()}")
    series: dict[str, set[str]] = {}
    _exposed(client.get("/metrics").text, series)
    worker = start_worker_http_server(0, lambda: True, host="127.0.0.1")
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{worker.port}/metrics", timeout=5) as response:
            _exposed(response.read().decode(), series)
    finally:
        worker.stop()
    _declared_labels(series)
    gpu_registry = CollectorRegistry()
    gpu_registry.register(GpuCollector(_FakeNvml()))  # type: ignore[arg-type]  # NVML is absent here
    _exposed(generate_latest(gpu_registry).decode(), series)
    return series


def test_every_rule_is_complete() -> None:
    rules = _rules()
    assert len(rules) >= 8
    names = [rule["alert"] for rule in rules]
    assert len(names) == len(set(names))
    for rule in rules:
        assert set(rule) == {"alert", "expr", "for", "labels", "annotations"}, rule["alert"]
        assert re.fullmatch(r"\d+[smh]", rule["for"]), rule["alert"]
        assert rule["labels"]["severity"] in {"critical", "warning"}, rule["alert"]
        assert rule["annotations"]["summary"] and rule["annotations"]["description"], rule["alert"]


def test_the_documented_alerts_exist() -> None:
    expressions = " ".join(rule["expr"] for rule in _rules())
    for needle in (
        've_http_requests_total{status=~"5..", route!~"/healthz|/readyz|/metrics"}',  # HTTP errors
        've_jobs_finished_total{status="FAILED"}',  # high error rate (jobs)
        'up{job="video-enhancer-worker"} == 0',  # workers down
        'absent(up{job="video-enhancer-worker"} == 1)',
        've_readiness_check_ok{check="database"}',  # database unreachable
        "ve_storage_errors_total",  # storage failures
        've_queue_oldest_job_age_seconds{priority="0"}',  # queue too old, per priority
        've_queue_oldest_job_age_seconds{priority="2"}',
    ):
        assert needle in expressions, needle


def test_metric_name_extraction() -> None:
    expr = (
        'sum by (route) (rate(ve_a_total{status=~"5..", route!~"/x|/y"}[5m])) / ignoring(x) ve_b > 0.5'
        ' and absent(up{job="w", instance!="i"})'
    )
    assert metric_names(expr) == {"ve_a_total", "ve_b", "up"}
    assert selector_labels(expr) == {"ve_a_total": {"status", "route"}, "up": {"job", "instance"}}


def test_alerts_only_use_exposed_metrics_and_labels(exposed_series: dict[str, set[str]]) -> None:
    for rule in _rules():
        for name in metric_names(rule["expr"]) - PROMETHEUS_SERIES:
            assert name in exposed_series, f"{rule['alert']}: {name} is not exposed by the code"
        for name, keys in selector_labels(rule["expr"]).items():
            known = exposed_series.get(name, set()) | TARGET_LABELS
            if name in PROMETHEUS_SERIES:
                continue
            assert keys <= known, f"{rule['alert']}: {name} has no label {keys - known}"
        for job in re.findall(r'job="([^"]+)"', rule["expr"]):
            assert job in JOB_NAMES, f"{rule['alert']}: unknown scrape job {job}"


def test_labelled_series_in_alerts_have_values_after_requests(exposed_series: dict[str, set[str]]) -> None:
    # These series exist from the first scrape on (not only after an incident), so `for:` clocks
    # and ratios have data to work with.
    for name in ("ve_http_requests_total", "ve_queue_oldest_job_age_seconds", "ve_database_up"):
        assert name in exposed_series
    assert {"method", "route", "status"} <= exposed_series["ve_http_requests_total"]
    assert exposed_series["ve_queue_oldest_job_age_seconds"] == {"priority"}
    assert {"check"} <= exposed_series["ve_readiness_check_ok"]


def _promtool() -> str:
    """`make test` unpacks promtool into the virtualenv; one on PATH will do as well."""
    beside_python = Path(sys.executable).parent / "promtool"
    found = str(beside_python) if beside_python.exists() else shutil.which("promtool")
    assert found, "promtool not found: run the tests with `make test`, which installs it"
    return found


def test_promtool_accepts_the_rules() -> None:
    result = subprocess.run([_promtool(), "check", "rules", str(ALERTS)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def _http_error_rule_test(series: dict[str, str], fires: bool) -> dict[str, Any]:
    """A `promtool test rules` case: `series` (selector -> values) for 25 minutes, then the verdict."""
    rule = next(rule for rule in _rules() if rule["alert"] == "VideoEnhancerHighHttpErrorRate")
    # Every case that fires has only failing API requests: $value is a ratio of 1.
    annotations = {
        "summary": rule["annotations"]["summary"],
        "description": rule["annotations"]["description"].replace(
            "{{ $value | humanizePercentage }}", "100%"
        ),
    }
    expected = [{"exp_labels": rule["labels"], "exp_annotations": annotations}] if fires else []
    return {
        "interval": "1m",
        "input_series": [{"series": name, "values": values} for name, values in series.items()],
        "alert_rule_test": [
            {"eval_time": "25m", "alertname": "VideoEnhancerHighHttpErrorRate", "exp_alerts": expected}
        ],
    }


def _requests(route: str, status: int) -> str:
    return f've_http_requests_total{{method="GET", route="{route}", status="{status}"}}'


def _per_minute(requests: int) -> str:
    """A counter rising by `requests` a minute for 30 minutes, in promtool's notation."""
    return f"0+{requests}x30"


def test_http_error_rate_leaves_out_probes_and_scrapes(tmp_path: Path) -> None:
    cases = [
        # A failing readiness probe is a dependency down: its own alert reports it, not this one.
        _http_error_rule_test(
            {
                _requests("/readyz", 503): _per_minute(600),
                _requests("/videos/{videoId}", 200): _per_minute(60),
            },
            fires=False,
        ),
        # Busy probes and scrapes must not dilute real failures below the threshold (1 in 31).
        _http_error_rule_test(
            {
                _requests("/videos/{videoId}", 500): _per_minute(60),
                **{_requests(route, 200): _per_minute(600) for route in PROBE_ROUTES},
            },
            fires=True,
        ),
        # Probes alone do not make the traffic floor: 3 failures a minute on a quiet night stay quiet.
        _http_error_rule_test(
            {_requests("/videos", 500): _per_minute(3), _requests("/healthz", 200): _per_minute(30)},
            fires=False,
        ),
    ]
    tests = tmp_path / "http_error_rate_test.yml"
    document = {"rule_files": [str(ALERTS)], "evaluation_interval": "1m", "tests": cases}
    tests.write_text(yaml.safe_dump(document, sort_keys=False))
    result = subprocess.run([_promtool(), "test", "rules", str(tests)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
