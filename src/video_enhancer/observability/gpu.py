"""GPU utilisation and memory from NVML, read at scrape time.

NVML comes from the optional `nvidia-ml-py` package (module `pynvml`). Without it, or on a machine
without an NVIDIA driver, the collector is simply not registered: the series are absent rather
than zero, so a CPU worker never looks like an idle GPU.

NVML's "used" memory includes what PyTorch's caching allocator keeps after tensors are freed, so
the same collector also reports PyTorch's own view (allocated by live tensors, reserved by the
allocator) per CUDA device of this process. Those are read only when this process has already
imported torch and initialised CUDA: a scrape never imports torch or creates a CUDA context.
"""

from __future__ import annotations

import importlib
import logging
import sys
import threading
import weakref
from collections.abc import Iterator
from types import ModuleType
from typing import Any

from prometheus_client import CollectorRegistry
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

logger = logging.getLogger(__name__)

GPU_UTILIZATION = "ve_gpu_utilization_ratio"
GPU_MEMORY_USED = "ve_gpu_memory_used_bytes"
GPU_MEMORY_TOTAL = "ve_gpu_memory_total_bytes"
TORCH_ALLOCATED = "ve_gpu_torch_allocated_bytes"
TORCH_RESERVED = "ve_gpu_torch_reserved_bytes"

_registered: weakref.WeakSet[CollectorRegistry] = weakref.WeakSet()
_lock = threading.Lock()


def load_nvml() -> ModuleType | None:
    """Initialise NVML and return the module, or None when no NVML (package or driver) is here."""
    try:
        nvml = importlib.import_module("pynvml")
        nvml.nvmlInit()
    except Exception as exc:  # ImportError, or NVMLError when the driver is missing
        logger.info("NVML not available; GPU metrics disabled", extra={"reason": type(exc).__name__})
        return None
    return nvml


class GpuCollector(Collector):
    """One sample per visible GPU for utilisation (0..1) and memory used/total (bytes), plus
    PyTorch's allocated/reserved bytes per CUDA device once this process uses CUDA."""

    def __init__(self, nvml: ModuleType) -> None:
        self._nvml = nvml

    def describe(self) -> list[GaugeMetricFamily]:
        return [*self._families(), *_torch_families()]

    def collect(self) -> Iterator[GaugeMetricFamily]:
        yield from self._collect_nvml()
        yield from _collect_torch()

    def _collect_nvml(self) -> Iterator[GaugeMetricFamily]:
        utilization, used, total = self._families()
        try:
            for index in range(self._nvml.nvmlDeviceGetCount()):
                handle = self._nvml.nvmlDeviceGetHandleByIndex(index)
                rates = self._nvml.nvmlDeviceGetUtilizationRates(handle)
                memory = self._nvml.nvmlDeviceGetMemoryInfo(handle)
                utilization.add_metric([str(index)], rates.gpu / 100.0)
                used.add_metric([str(index)], float(memory.used))
                total.add_metric([str(index)], float(memory.total))
        except Exception:  # a GPU that fell off the bus must not break the whole scrape
            logger.warning("reading NVML failed", exc_info=True)
        yield from (utilization, used, total)

    @staticmethod
    def _families() -> tuple[GaugeMetricFamily, GaugeMetricFamily, GaugeMetricFamily]:
        return (
            GaugeMetricFamily(
                GPU_UTILIZATION, "GPU busy time over the last sample period (0..1)", labels=["gpu"]
            ),
            GaugeMetricFamily(GPU_MEMORY_USED, "GPU memory in use", labels=["gpu"]),
            GaugeMetricFamily(GPU_MEMORY_TOTAL, "GPU memory installed", labels=["gpu"]),
        )


def _torch_families() -> tuple[GaugeMetricFamily, GaugeMetricFamily]:
    # `device` is PyTorch's CUDA index, which CUDA_VISIBLE_DEVICES may renumber: not NVML's `gpu`.
    return (
        GaugeMetricFamily(TORCH_ALLOCATED, "GPU memory held by live PyTorch tensors", labels=["device"]),
        GaugeMetricFamily(
            TORCH_RESERVED, "GPU memory reserved by PyTorch's caching allocator", labels=["device"]
        ),
    )


def _collect_torch() -> Iterator[GaugeMetricFamily]:
    allocated, reserved = _torch_families()
    torch = sys.modules.get("torch")  # only a torch this process imported already
    try:
        if torch is not None and torch.cuda.is_initialized():
            for index in range(torch.cuda.device_count()):
                allocated.add_metric([str(index)], float(torch.cuda.memory_allocated(index)))
                reserved.add_metric([str(index)], float(torch.cuda.memory_reserved(index)))
    except Exception:  # a scrape must not fail because of PyTorch
        logger.warning("reading PyTorch memory statistics failed", exc_info=True)
    yield from (allocated, reserved)


def register_gpu_collector(registry: CollectorRegistry) -> bool:
    """Register the NVML collector once per registry; False (and nothing registered) without NVML."""
    with _lock:
        if registry in _registered:
            return True
        nvml = load_nvml()
        if nvml is None:
            return False
        registry.register(GpuCollector(nvml))
        _registered.add(registry)
        return True


def torch_gpu_details() -> dict[str, Any]:
    """What the worker's torch sees, for `/readyz`: its version, the CUDA it was built for, and
    whether that CUDA runs with the host's driver (`cuda_available`). Never imports torch: a
    Lanczos worker has none, and reports nulls."""
    torch = sys.modules.get("torch")
    if torch is None:
        return {"torch": None, "cuda": None, "cuda_available": None, "device": None}
    available = bool(torch.cuda.is_available())
    return {
        "torch": str(torch.__version__),
        "cuda": torch.version.cuda,
        "cuda_available": available,
        "device": torch.cuda.get_device_name(0) if available else None,
    }
