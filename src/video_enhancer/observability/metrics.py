"""Prometheus metric definitions shared by the API and the worker.

Names are part of the operations contract (dashboards and `deploy/alerts.yml` use them): change
them only together with the alert rules.
"""

from __future__ import annotations

import enum

from prometheus_client import Counter, Gauge, Histogram

from video_enhancer.models import TERMINAL_STATUSES, JobStatus

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
JOB_BUCKETS = (5, 15, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200)

HTTP_REQUESTS = Counter("ve_http_requests_total", "HTTP requests handled", ["method", "route", "status"])
HTTP_LATENCY = Histogram(
    "ve_http_request_duration_seconds",
    "HTTP request latency",
    ["method", "route", "status"],
    buckets=LATENCY_BUCKETS,
)
QUOTA_REJECTIONS = Counter(
    "ve_quota_rejections_total", "Upload requests refused by plan limits", ["plan", "reason"]
)
JOBS_FINISHED = Counter(
    "ve_jobs_finished_total", "Jobs that reached a final status", ["status", "error_code"]
)
JOB_PROCESSING_SECONDS = Histogram(
    "ve_job_processing_seconds", "Wall time of a job from claim to final status", buckets=JOB_BUCKETS
)
JOB_STAGE_SECONDS = Histogram(
    "ve_job_stage_seconds", "Wall time per pipeline stage", ["stage"], buckets=JOB_BUCKETS
)
MINUTES_CHARGED = Counter("ve_minutes_charged_total", "Minutes charged to users", ["plan"])
OUTPUTS_REJECTED = Counter(
    "ve_outputs_rejected_total", "Outputs refused for absurd fidelity to their source (alert)", ["enhancer"]
)
FRAMES_PROCESSED = Counter("ve_worker_frames_total", "Frames enhanced by this worker", ["enhancer"])
FRAMES_PER_SECOND = Gauge("ve_worker_frames_per_second", "Enhancement speed of the current job")
WORKER_BUSY = Gauge("ve_worker_busy_jobs", "Jobs this worker is processing now")
WORKER_READY = Gauge("ve_worker_ready", "1 once the worker has loaded its model and can take jobs")
JOB_RETRIES = Counter("ve_job_retries_total", "Jobs handed back for another attempt", ["reason"])
WEBHOOK_DELIVERIES = Counter(
    "ve_webhook_deliveries_total", "Webhook delivery attempts by outcome", ["outcome"]
)
WEBHOOK_DELIVERY_SECONDS = Histogram(
    "ve_webhook_delivery_seconds",
    "Time from an event to its successful delivery",
    buckets=(0.1, 0.5, 1, 5, 30, 60, 300, 1800, 3600, 6 * 3600, 24 * 3600),
)
WEBHOOK_BACKLOG = Gauge("ve_webhook_backlog", "Webhook deliveries waiting to be sent")
EVENT_STREAMS = Gauge("ve_event_streams_open", "Server-Sent Event streams open in this process")
STORAGE_ERRORS = Counter("ve_storage_errors_total", "Storage operations that failed", ["operation"])
READINESS_CHECK = Gauge(
    "ve_readiness_check_ok", "1 when the last /readyz probe found this dependency healthy", ["check"]
)


class StorageOperation(enum.StrEnum):
    """The only values of `ve_storage_errors_total{operation}`: a fixed set keeps the label bounded."""

    DOWNLOAD = "download"
    """The worker fetching the raw upload."""
    CHECKPOINT = "checkpoint"
    """Segment checkpoints read, written or cleared."""
    UPLOAD = "upload"
    """The enhanced output stored (and its size read back)."""


# Every operation has a series from the first scrape, so `increase()` sees the first failure.
for _operation in StorageOperation:
    STORAGE_ERRORS.labels(operation=_operation.value)


def record_storage_error(operation: StorageOperation) -> None:
    STORAGE_ERRORS.labels(operation=operation.value).inc()


def record_job_finished(status: JobStatus, error_code: str | None = None, count: int = 1) -> None:
    """Count jobs that reached a final status; call it once the transaction that wrote it committed.

    `error_code` is kept for FAILED only, as the documented label says; `count` serves bulk
    transitions such as stalled-job recovery.
    """
    if status not in TERMINAL_STATUSES:
        raise ValueError(f"{status} is not a final job status")
    if count <= 0:
        return
    code = (error_code or "") if status == JobStatus.FAILED else ""
    JOBS_FINISHED.labels(status=status.value, error_code=code).inc(count)
