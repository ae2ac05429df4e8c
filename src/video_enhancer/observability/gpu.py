"""GPU utilisation and memory from NVML, read at scrape time.

NVML comes from the optional `nvidia-ml-py` package (module `pynvml`). Without it, or on a machine
without an NVIDIA driver, the collector is simply not registered: the series are absent rather
than zero, so a CPU worker never looks like an idle GPU.
"""

from __future__ import annotations

import importlib
import logging
import threading
import weakref
from collections.abc import Iterator
from types import ModuleType

from prometheus_client import CollectorRegistry
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

logger = logging.getLogger(__name__)

GPU_UTILIZATION = "ve_gpu_utilization_ratio"
GPU_MEMORY_USED = "ve_gpu_memory_used_bytes"
GPU_MEMORY_TOTAL = "ve_gpu_memory_total_bytes"

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
    """One sample per visible GPU for utilisation (0..1) and memory used/total (bytes)."""

    def __init__(self, nvml: ModuleType) -> None:
        self._nvml = nvml

    def describe(self) -> list[GaugeMetricFamily]:
        return list(self._families())

    def collect(self) -> Iterator[GaugeMetricFamily]:
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
