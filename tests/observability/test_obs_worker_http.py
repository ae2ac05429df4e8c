"""The worker's HTTP server: liveness, readiness that follows the worker, metrics, GPU gauges."""

from __future__ import annotations

import importlib.util
import json
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from types import SimpleNamespace

import pytest
from prometheus_client import CollectorRegistry, Counter
from prometheus_client.parser import text_string_to_metric_families

from video_enhancer.observability.gpu import GpuCollector, register_gpu_collector
from video_enhancer.observability.worker_http import WorkerHttpServer, start_worker_http_server


def _get(server: WorkerHttpServer, path: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{server.port}{path}", timeout=5) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


@pytest.fixture
def ready_flag() -> list[bool]:
    return [False]


@pytest.fixture
def server(ready_flag: list[bool]) -> Iterator[WorkerHttpServer]:
    running = start_worker_http_server(0, lambda: ready_flag[0], host="127.0.0.1")
    yield running
    running.stop()


def test_healthz_answers_while_not_ready(server: WorkerHttpServer) -> None:
    assert _get(server, "/healthz") == (200, json.dumps({"status": "ok"}))


def test_readyz_follows_the_readiness_callback(server: WorkerHttpServer, ready_flag: list[bool]) -> None:
    status, body = _get(server, "/readyz")
    assert status == 503 and json.loads(body)["status"] == "not_ready"
    ready_flag[0] = True  # the model finished loading
    status, body = _get(server, "/readyz")
    assert status == 200 and json.loads(body)["status"] == "ready"


def test_readyz_is_not_ready_when_the_callback_raises() -> None:
    def broken() -> bool:
        raise RuntimeError("model registry gone")

    running = start_worker_http_server(0, broken, host="127.0.0.1")
    try:
        assert _get(running, "/readyz")[0] == 503
        assert _get(running, "/healthz")[0] == 200
    finally:
        running.stop()


def test_metrics_expose_the_process_registry(server: WorkerHttpServer) -> None:
    status, body = _get(server, "/metrics?name[]=ignored")
    assert status == 200
    names = {family.name for family in text_string_to_metric_families(body)}
    assert {"ve_worker_ready", "ve_worker_busy_jobs", "ve_jobs_finished", "ve_minutes_charged"} <= names


def test_metrics_of_a_custom_registry_and_unknown_paths() -> None:
    registry = CollectorRegistry()
    Counter("ve_test_things", "things", registry=registry).inc(3)
    running = start_worker_http_server(0, lambda: True, host="127.0.0.1", registry=registry)
    try:
        status, body = _get(running, "/metrics")
        assert status == 200 and "ve_test_things_total 3.0" in body
        assert _get(running, "/nope")[0] == 404
    finally:
        running.stop()
        running.stop()  # stopping twice is harmless (shutdown paths may overlap)


NVML_PRESENT = importlib.util.find_spec("pynvml") is not None


@pytest.mark.skipif(NVML_PRESENT, reason="checks the behaviour without NVML; this machine has pynvml")
def test_gpu_metrics_are_absent_without_nvml(server: WorkerHttpServer) -> None:
    assert register_gpu_collector(CollectorRegistry()) is False
    body = _get(server, "/metrics")[1]
    assert "ve_gpu_" not in body


class _FakeNvml(SimpleNamespace):
    """Stands in for NVML (absent here) so the collector's translation to metrics is tested."""

    def __init__(self, fail: bool = False) -> None:
        super().__init__(fail=fail)

    def nvmlDeviceGetCount(self) -> int:
        if self.fail:
            raise RuntimeError("GPU is lost")
        return 2

    def nvmlDeviceGetHandleByIndex(self, index: int) -> int:
        return index

    def nvmlDeviceGetUtilizationRates(self, handle: int) -> SimpleNamespace:
        return SimpleNamespace(gpu=[35, 100][handle], memory=10)

    def nvmlDeviceGetMemoryInfo(self, handle: int) -> SimpleNamespace:
        return SimpleNamespace(used=[1024, 2048][handle] * 1024**2, total=80 * 1024**3, free=0)


def _samples(collector: GpuCollector) -> dict[tuple[str, str], float]:
    """(series, index) -> value; the index is NVML's `gpu` or PyTorch's `device`."""
    return {
        (sample.name, sample.labels.get("gpu") or sample.labels["device"]): sample.value
        for family in collector.collect()
        for sample in family.samples
    }


def _fake_torch(cuda_initialized: bool) -> SimpleNamespace:
    """PyTorch as the collector sees it: two devices, 1 GiB in tensors and 3 GiB reserved on each."""
    cuda = SimpleNamespace(
        is_initialized=lambda: cuda_initialized,
        device_count=lambda: 2,
        memory_allocated=lambda index: 1024**3,
        memory_reserved=lambda index: 3 * 1024**3,
    )
    return SimpleNamespace(cuda=cuda)


def test_gpu_collector_reports_each_device() -> None:
    samples = _samples(GpuCollector(_FakeNvml()))  # type: ignore[arg-type]
    assert samples[("ve_gpu_utilization_ratio", "0")] == pytest.approx(0.35)
    assert samples[("ve_gpu_utilization_ratio", "1")] == 1.0
    assert samples[("ve_gpu_memory_used_bytes", "1")] == 2048 * 1024**2
    assert samples[("ve_gpu_memory_total_bytes", "0")] == 80 * 1024**3


def test_gpu_collector_survives_an_nvml_error() -> None:
    registry = CollectorRegistry()
    registry.register(GpuCollector(_FakeNvml(fail=True)))  # type: ignore[arg-type]
    assert registry.get_sample_value("ve_gpu_utilization_ratio", {"gpu": "0"}) is None
    assert _samples(GpuCollector(_FakeNvml(fail=True))) == {}  # type: ignore[arg-type]


@pytest.mark.gpu
@pytest.mark.skipif(not NVML_PRESENT, reason="needs nvidia-ml-py (pynvml) and an NVIDIA driver")
def test_gpu_metrics_from_real_nvml() -> None:
    registry = CollectorRegistry()
    assert register_gpu_collector(registry) is True
    assert register_gpu_collector(registry) is True  # idempotent: no duplicate registration error
    running = start_worker_http_server(0, lambda: True, host="127.0.0.1", registry=registry)
    try:
        body = _get(running, "/metrics")[1]
    finally:
        running.stop()
    families = {family.name: family for family in text_string_to_metric_families(body)}
    utilization = families["ve_gpu_utilization_ratio"].samples
    assert utilization and all(0.0 <= sample.value <= 1.0 for sample in utilization)
    used = {s.labels["gpu"]: s.value for s in families["ve_gpu_memory_used_bytes"].samples}
    total = {s.labels["gpu"]: s.value for s in families["ve_gpu_memory_total_bytes"].samples}
    assert used.keys() == total.keys() and all(0 < used[g] <= total[g] for g in used)


def test_gpu_collector_reports_pytorch_memory_beside_nvml(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "torch", _fake_torch(cuda_initialized=True))
    samples = _samples(GpuCollector(_FakeNvml()))  # type: ignore[arg-type]
    assert samples[("ve_gpu_torch_allocated_bytes", "1")] == 1024**3
    assert samples[("ve_gpu_torch_reserved_bytes", "0")] == 3 * 1024**3
    assert samples[("ve_gpu_memory_used_bytes", "0")] == 1024 * 1024**2  # NVML's series are unchanged


def test_gpu_collector_never_starts_cuda_or_imports_torch(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "torch", _fake_torch(cuda_initialized=False))
    assert not any(name.startswith("ve_gpu_torch") for name, _ in _samples(GpuCollector(_FakeNvml())))  # type: ignore[arg-type]
    monkeypatch.delitem(sys.modules, "torch")
    assert not any(name.startswith("ve_gpu_torch") for name, _ in _samples(GpuCollector(_FakeNvml())))  # type: ignore[arg-type]
    assert "torch" not in sys.modules


def test_readyz_reports_what_torch_sees() -> None:
    """`torch.cuda.is_available()` in the readiness detail: the driver/CUDA/torch match check."""
    import torch

    running = start_worker_http_server(0, lambda: True, host="127.0.0.1")
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{running.port}/readyz", timeout=5) as response:
            body = json.loads(response.read())
    finally:
        running.stop()
    assert body["status"] == "ready"
    assert body["gpu"]["torch"] == torch.__version__
    assert body["gpu"]["cuda"] == torch.version.cuda
    assert body["gpu"]["cuda_available"] is torch.cuda.is_available()
