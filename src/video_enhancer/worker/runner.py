"""One claimed job, from the raw upload to a verified, stored, charged result.

`JobRunner.run(claimed)` reads as its steps:

1. download the raw object into ``<scratch>/<job_id>/`` (locked while the job runs; see
   `worker.scratch`);
2. probe it: the measured duration decides (over the plan's maximum: DURATION_EXCEEDED) and is
   recorded on the video; before any decode, the job's quota hold grows to the measured minutes
   under the user's lock, or the job fails with QUOTA_EXCEEDED and nothing is charged
   (`jobs.lifecycle.hold_measured_minutes`);
3. enhance through the media pipeline with a storage-backed checkpoint, so a job whose worker
   died resumes on any worker and computes only the segments not finished; on a batching
   worker (`VE_WORKER_GPU_STREAMS` > 1) a video alone there runs as several streams
   (`VE_SPLIT_VIDEOS`, `VE_SEGMENT_WARMUP_FRAMES`; ADR 0009);
4. verify the output (OUTPUT_VERIFICATION_FAILED otherwise) and measure its fidelity to the
   source (`media.quality`): an absurd one (noise, swapped colours, black) fails the job with
   OUTPUT_REJECTED before anything is stored or charged, counted in `ve_outputs_rejected_total`;
5. upload it to ``users/<uid>/videos/<vid>/enhanced-<job_id>.mp4`` in the enhanced area;
6. complete and charge in one transaction (`jobs.lifecycle.complete_job`).

Between segments the pipeline asks whether to stop: a cancel request (acknowledged as
CANCELED), a worker shutdown (the job is handed back to the queue), or a lost lease (the job is
someone else's now: nothing more is written). Errors never escape `run`: media errors fail the
job at once with their code; storage outages and anything unexpected are retried with back-off.
A storage outage is counted in `ve_storage_errors_total` under the step it stopped (download,
checkpoint, upload). Every status change goes through `jobs.lifecycle`, which also counts it.
"""

from __future__ import annotations

import enum
import logging
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import update
from sqlalchemy.orm import Session, sessionmaker

from video_enhancer.config import Settings
from video_enhancer.enhancers.base import Enhancer
from video_enhancer.enhancers.registry import ENHANCERS
from video_enhancer.errors import ServiceError, StorageUnavailable
from video_enhancer.jobs.lifecycle import (
    QUOTA_EXCEEDED,
    MinutesHold,
    acknowledge_cancel,
    complete_job,
    fail_job,
    hand_back_job,
    hold_measured_minutes,
    quota_message,
    retry_job,
)
from video_enhancer.logging import job_id_var, request_id_var, user_id_var
from video_enhancer.media.encode import EncoderSettings, choose_encoder
from video_enhancer.media.errors import MediaError, PipelineStopped
from video_enhancer.media.limits import MediaLimits
from video_enhancer.media.pipeline import PipelineConfig, PipelineResult, run_pipeline
from video_enhancer.media.poster import write_poster
from video_enhancer.media.probe import MediaInfo, ProbeOptions, probe
from video_enhancer.media.quality import (
    Fidelity,
    FidelityThresholds,
    OutputRejected,
    check_fidelity,
    measure_fidelity,
)
from video_enhancer.media.verify import verify_output
from video_enhancer.models import Job, JobStage, JobStatus, User, Video
from video_enhancer.observability.metrics import (
    FRAMES_PROCESSED,
    JOB_PROCESSING_SECONDS,
    OUTPUTS_REJECTED,
    StorageOperation,
    record_storage_error,
)
from video_enhancer.provenance.service import credential_output, signing_pair
from video_enhancer.queue.database import ClaimedJob, CompletedOutput, is_cancel_requested
from video_enhancer.storage import keys
from video_enhancer.storage.base import Storage
from video_enhancer.worker.checkpoint import StorageCheckpoint
from video_enhancer.worker.heartbeat import LeaseHeartbeat
from video_enhancer.worker.progress import ProgressWriter
from video_enhancer.worker.scratch import job_scratch

logger = logging.getLogger(__name__)

DURATION_EXCEEDED = "DURATION_EXCEEDED"
UNEXPECTED_ERROR = "INTERNAL_ERROR"
MAX_DURATION_SLACK_S = 0.1


class Outcome(enum.StrEnum):
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"
    CANCELED = "CANCELED"
    RETRYING = "RETRYING"
    HANDED_BACK = "HANDED_BACK"
    LOST = "LOST"
    """The lease was lost (or the job finished elsewhere): this worker wrote nothing final."""


@dataclass(frozen=True, slots=True)
class JobOutcome:
    outcome: Outcome
    error_code: str | None = None
    minutes_charged: int | None = None
    resumed_segments: int = 0


@dataclass(frozen=True, slots=True)
class _JobFacts:
    """What the runner reads once from the job, its video and its user."""

    raw_key: str
    output_key: str
    poster_key: str
    max_duration_seconds: int
    max_output_height: int


class _Stop(Exception):
    """Internal: the pipeline was asked to stop; `reason` says why."""

    def __init__(self, reason: Outcome) -> None:
        super().__init__(reason.value)
        self.reason = reason


class _Fail(Exception):
    """Internal: a permanent failure decided by the runner itself (not a media error)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class _StopCheck:
    """The pipeline's `should_stop`, asked between segments; remembers why it said stop."""

    def __init__(self, runner: JobRunner, claimed: ClaimedJob, lost: threading.Event) -> None:
        self._runner = runner
        self._claimed = claimed
        self._lost = lost
        self.reason = Outcome.HANDED_BACK

    def __call__(self) -> bool:
        if self._lost.is_set():
            self.reason = Outcome.LOST
        elif is_cancel_requested(self._runner.session_factory, self._claimed.job_id):
            self.reason = Outcome.CANCELED
        elif self._runner.shutdown.is_set():
            self.reason = Outcome.HANDED_BACK
        else:
            return False
        return True


@contextmanager
def _storage_step(operation: StorageOperation) -> Iterator[None]:
    """Count a storage outage under the step it stopped; `run` still decides the retry."""
    try:
        yield
    except StorageUnavailable:
        record_storage_error(operation)
        raise


class JobRunner:
    """Runs claimed jobs with one loaded enhancer; one `run` at a time per instance."""

    def __init__(
        self,
        settings: Settings,
        session_factory: sessionmaker[Session],
        storage: Storage,
        enhancer: Enhancer,
        shutdown: threading.Event | None = None,
    ) -> None:
        self.settings = settings
        self.session_factory = session_factory
        self.storage = storage
        self.enhancer = enhancer
        self.shutdown = shutdown or threading.Event()

    def run(self, claimed: ClaimedJob) -> JobOutcome:
        """Process `claimed` to a final state (or hand it back); never raises for a bad job."""
        tokens = (
            job_id_var.set(str(claimed.job_id)),
            request_id_var.set(claimed.request_id),
            user_id_var.set(str(claimed.user_id)),
        )
        started = time.monotonic()
        lost = threading.Event()
        try:
            with (
                job_scratch(self.settings.worker_scratch_dir, str(claimed.job_id)) as scratch,
                LeaseHeartbeat(self.session_factory, claimed, self.settings.job_lease_seconds, lost),
            ):
                outcome = self._run_guarded(claimed, scratch, lost)
        finally:
            for var, token in zip((job_id_var, request_id_var, user_id_var), tokens, strict=True):
                var.reset(token)  # type: ignore[attr-defined]
        JOB_PROCESSING_SECONDS.observe(time.monotonic() - started)
        return outcome

    def _run_guarded(self, claimed: ClaimedJob, scratch: Path, lost: threading.Event) -> JobOutcome:
        progress = ProgressWriter(self.session_factory, claimed, lost)
        try:
            return self._process(claimed, scratch, progress)
        except _Stop as stop:
            return self._stopped(claimed, stop.reason)
        except _Fail as failure:
            return self._fail(claimed, failure.code, failure.message, detail="")
        except MediaError as exc:
            return self._fail(claimed, exc.code, exc.message, detail=exc.detail)
        except StorageUnavailable as exc:  # counted by `_storage_step` where it happened
            return self._retry(claimed, exc.code, exc.message, exc)
        except Exception as exc:
            message = "An unexpected error stopped processing; it will be retried."
            return self._retry(claimed, _code_of(exc), message, exc)
        finally:
            progress.finish()

    # The steps

    def _process(self, claimed: ClaimedJob, scratch: Path, progress: ProgressWriter) -> JobOutcome:
        facts = self._load_facts(claimed)
        self._record_enhancer(claimed)
        progress.stage(JobStage.DOWNLOADING, progress_percent=0.0)
        source = self._download(facts, scratch)
        progress.stage(JobStage.PROBING)
        info = self._probe(claimed, facts, source)
        progress.stage(JobStage.ENHANCING, frames_total=info.video.frame_count, frames_done=0)
        result = self._enhance(claimed, facts, info, scratch, progress)
        progress.stage(JobStage.VERIFYING)
        credentials = self._credentials(source, result)
        verify_output(info, result.output, result.sizes.output)
        fidelity = self._check_fidelity(info, result)
        progress.stage(JobStage.UPLOADING)
        size_bytes = self._upload(facts, result)
        poster = self._output_poster(facts, result, scratch)
        summary = {**self._result_summary(result, info, size_bytes), "contentCredentials": credentials}
        return self._complete(claimed, facts, info, result, summary, fidelity, poster)

    def _credentials(self, source: Path, result: PipelineResult) -> dict[str, Any] | None:
        """Sign the output with C2PA Content Credentials and read them back (before any charge)."""
        pair = signing_pair(self.settings)
        if pair is None:
            return None
        return credential_output(pair, source, result.output, result.enhancer, result.sizes)

    def _output_poster(self, facts: _JobFacts, result: PipelineResult, scratch: Path) -> str | None:
        """The output's poster; a failure here costs only the picture, not the verified result."""
        try:
            write_poster(probe(result.output), scratch / "output-poster.jpg")
            with _storage_step(StorageOperation.UPLOAD):
                self.storage.put_file(
                    "enhanced", facts.poster_key, scratch / "output-poster.jpg", "image/jpeg"
                )
        except (MediaError, OSError):
            logger.warning("output poster not made", exc_info=True)
            return None
        return facts.poster_key

    def _check_fidelity(self, info: MediaInfo, result: PipelineResult) -> Fidelity:
        """Measure the output against the source; refuse an absurd one before anything is stored."""
        fidelity = measure_fidelity(info, probe(result.output), self.settings.output_quality_samples)
        thresholds = FidelityThresholds(self.settings.output_min_psnr_db, self.settings.output_min_ssim)
        try:
            check_fidelity(fidelity, thresholds)
        except OutputRejected:
            OUTPUTS_REJECTED.labels(enhancer=result.enhancer).inc()
            raise
        return fidelity

    def _load_facts(self, claimed: ClaimedJob) -> _JobFacts:
        with self.session_factory() as session:
            job = session.get(Job, claimed.job_id)
            video = session.get(Video, claimed.video_id)
            user = session.get(User, claimed.user_id)
            if job is None or video is None or user is None:
                raise _Fail("NOT_FOUND", "The video of this job no longer exists.")
            return _JobFacts(
                raw_key=video.storage_path,
                output_key=keys.output_key(user.id, video.id, job.id),
                poster_key=keys.thumbnail_key(user.id, video.id, job.id),
                max_duration_seconds=job.max_duration_seconds,
                max_output_height=job.max_output_height,
            )

    def _record_enhancer(self, claimed: ClaimedJob) -> None:
        """The API wrote the enhancer its settings name; the one loaded here is the truth."""
        name = self.enhancer.name
        with self.session_factory.begin() as session:
            session.execute(
                update(Job)
                .where(Job.id == claimed.job_id, Job.lease_owner == claimed.worker_id)
                .where(Job.enhancer.is_distinct_from(name))
                .values(enhancer=name)
            )

    def _download(self, facts: _JobFacts, scratch: Path) -> Path:
        source = scratch / ("source" + Path(facts.raw_key).suffix)
        with _storage_step(StorageOperation.DOWNLOAD):
            if self.storage.size("raw", facts.raw_key) is None:
                raise _Fail("UPLOAD_MISSING", "The uploaded file is no longer in storage.")
            self.storage.download_to("raw", facts.raw_key, source)
        return source

    def _probe(self, claimed: ClaimedJob, facts: _JobFacts, source: Path) -> MediaInfo:
        info = probe(source, self._probe_options())
        self._record_measurements(claimed, info)
        # A clip of exactly the maximum may end one usual frame after it; never more than 0.1 s.
        slack = min(info.video.usual_interval_s, MAX_DURATION_SLACK_S)
        if info.duration_s > facts.max_duration_seconds + slack:
            raise _Fail(
                DURATION_EXCEEDED,
                f"The video is {info.duration_s:.1f} seconds long; your plan allows "
                f"{facts.max_duration_seconds} seconds.",
            )
        self._hold_measured_minutes(claimed, info.duration_s)
        return info

    def _hold_measured_minutes(self, claimed: ClaimedJob, measured_seconds: float) -> None:
        held = hold_measured_minutes(self.session_factory, claimed, measured_seconds)
        if held == MinutesHold.OVER_QUOTA:
            raise _Fail(QUOTA_EXCEEDED, quota_message(measured_seconds))
        if held == MinutesHold.LOST:
            raise _Stop(Outcome.LOST)

    def _record_measurements(self, claimed: ClaimedJob, info: MediaInfo) -> None:
        with self.session_factory.begin() as session:
            video = session.get(Video, claimed.video_id)
            if video is not None:
                video.duration_seconds = info.duration_s
                video.resolution = f"{info.video.width}x{info.video.height}"
                video.frame_count = info.video.frame_count

    def _probe_options(self) -> ProbeOptions:
        limits = MediaLimits(
            max_pixels=self.settings.media_max_pixels,
            max_frame_rate=self.settings.media_max_frame_rate,
            max_frames_per_minute=self.settings.media_max_frames_per_minute,
        )
        return ProbeOptions(limits=limits, deinterlace=self.settings.deinterlace_rate)

    def _enhance(
        self, claimed: ClaimedJob, facts: _JobFacts, info: MediaInfo, scratch: Path, progress: ProgressWriter
    ) -> PipelineResult:
        checkpoint = StorageCheckpoint(self.storage, claimed.job_id, scratch / "checkpoint")
        stop_check = _StopCheck(self, claimed, progress.lost)
        # The pipeline's only storage calls are the checkpoint's: loading it and saving segments.
        try:
            with _storage_step(StorageOperation.CHECKPOINT):
                result = run_pipeline(
                    info,
                    scratch / "output.mp4",
                    self.enhancer,
                    self._pipeline_config(facts),
                    checkpoint=checkpoint,
                    work_dir=scratch,
                    progress=progress.pipeline,
                    should_stop=stop_check,
                )
        except PipelineStopped:
            raise _Stop(stop_check.reason) from None
        FRAMES_PROCESSED.labels(enhancer=self.enhancer.name).inc(info.video.frame_count)
        return result

    def _pipeline_config(self, facts: _JobFacts) -> PipelineConfig:
        """The job's pipeline; a video may take every batch row no other job fills (`max_lanes`).
        Speed over size encodes with NVENC and decodes with NVDEC where each opens."""
        settings = self.settings
        encoder = EncoderSettings(
            codec=settings.encoder, preset=settings.encoder_preset, crf=settings.encoder_crf
        )
        speed = settings.encoder_priority == "speed"
        return PipelineConfig(
            max_height=facts.max_output_height,
            segment_seconds=settings.segment_seconds,
            encoder=choose_encoder(encoder, prefer_speed=speed),
            max_lanes=settings.worker_gpu_streams if settings.split_videos else 1,
            warmup_frames=settings.segment_warmup_frames,
            hardware_decode=speed,
        )

    def _upload(self, facts: _JobFacts, result: PipelineResult) -> int:
        """Store the output; returns its size as storage reports it."""
        with _storage_step(StorageOperation.UPLOAD):
            self.storage.put_file("enhanced", facts.output_key, result.output, "video/mp4")
            return self.storage.size("enhanced", facts.output_key) or 0

    def _complete(
        self,
        claimed: ClaimedJob,
        facts: _JobFacts,
        info: MediaInfo,
        result: PipelineResult,
        summary: dict[str, Any],
        fidelity: Fidelity,
        poster: str | None,
    ) -> JobOutcome:
        width, height = result.sizes.output
        output = CompletedOutput(
            measured_seconds=info.duration_s,
            output_storage_path=facts.output_key,
            output_resolution=f"{width}x{height}",
            output_size_bytes=summary["outputSizeBytes"],
            enhancer=result.enhancer,
            result=summary,
            quality=fidelity.as_json(),
            output_thumbnail_path=poster,
        )
        minutes = complete_job(self.session_factory, claimed, output)
        if minutes is None:
            return self._not_completed(claimed, result)
        self._clear_checkpoint(claimed)
        logger.info("job completed", extra={"minutes_charged": minutes, "enhancer": result.enhancer})
        return JobOutcome(
            Outcome.COMPLETED, minutes_charged=minutes, resumed_segments=result.resumed_segments
        )

    def _not_completed(self, claimed: ClaimedJob, result: PipelineResult) -> JobOutcome:
        with self.session_factory() as session:
            job = session.get(Job, claimed.job_id)
            failed = job is not None and job.status == JobStatus.FAILED and job.error_code == QUOTA_EXCEEDED
        if failed:  # the completion's own quota check (a safety net behind the measured hold)
            logger.warning("job failed at completion: too few minutes left; nothing charged")
            return JobOutcome(Outcome.FAILED, error_code=QUOTA_EXCEEDED)
        logger.warning("job was no longer ours at completion; nothing charged")
        return JobOutcome(Outcome.LOST, resumed_segments=result.resumed_segments)

    def _clear_checkpoint(self, claimed: ClaimedJob) -> None:
        # The job is COMPLETED and charged: an outage now must not send it down the retry path.
        # Leftover segments cost only storage; they sit under the job's own prefix.
        try:
            with _storage_step(StorageOperation.CHECKPOINT):
                StorageCheckpoint(self.storage, claimed.job_id, Path()).clear()
        except StorageUnavailable:
            logger.warning("checkpoint segments of a completed job were not deleted", exc_info=True)

    def _result_summary(self, result: PipelineResult, info: MediaInfo, size_bytes: int) -> dict[str, Any]:
        spec = ENHANCERS.get(result.enhancer)
        classical = bool(spec and spec.classical)
        summary: dict[str, Any] = {
            "enhancer": result.enhancer,
            "classicalFallback": classical,
            "outputWidth": result.sizes.output[0],
            "outputHeight": result.sizes.output[1],
            "outputSizeBytes": size_bytes,
            "frames": result.frames,
            "durationSeconds": round(info.duration_s, 3),
            "segments": result.segments,
            "resumedSegments": result.resumed_segments,
            "sizePlan": {
                "source": list(result.sizes.source),
                "modelInput": list(result.sizes.enhancer_input),
                "output": list(result.sizes.output),
            },
        }
        if info.video.deinterlace is not None:
            summary["deinterlaced"] = info.video.deinterlace  # "field": one output frame per field
        if classical:
            summary["note"] = "Enhanced with the classical Lanczos fallback; no AI model was configured."
        return summary

    # The ways a job ends here

    def _stopped(self, claimed: ClaimedJob, reason: Outcome) -> JobOutcome:
        if reason == Outcome.CANCELED and acknowledge_cancel(self.session_factory, claimed):
            logger.info("job canceled at a checkpoint")
            return JobOutcome(Outcome.CANCELED)
        if reason == Outcome.HANDED_BACK and hand_back_job(self.session_factory, claimed):
            logger.info("job handed back to the queue for shutdown")
            return JobOutcome(Outcome.HANDED_BACK)
        logger.warning("job lease lost; stopping without writing")
        return JobOutcome(Outcome.LOST)

    def _fail(self, claimed: ClaimedJob, code: str, message: str, detail: str) -> JobOutcome:
        logger.warning("job failed", extra={"error_code": code, "detail": detail})
        if not fail_job(self.session_factory, claimed, code, message):
            return JobOutcome(Outcome.LOST, error_code=code)
        return JobOutcome(Outcome.FAILED, error_code=code)

    def _retry(self, claimed: ClaimedJob, code: str, message: str, exc: Exception) -> JobOutcome:
        logger.error(
            "job attempt failed; retrying if attempts remain",
            exc_info=exc,
            extra={"error_code": code, "attempt": claimed.attempts},
        )
        status = retry_job(self.session_factory, claimed, code, message)
        if status == JobStatus.QUEUED:
            return JobOutcome(Outcome.RETRYING, error_code=code)
        if status == JobStatus.FAILED:
            return JobOutcome(Outcome.FAILED, error_code=code)
        return JobOutcome(Outcome.LOST, error_code=code)


def _code_of(exc: Exception) -> str:
    """Transient errors keep their own stable code when they have one (ServiceError), else a generic one."""
    return exc.code if isinstance(exc, ServiceError) else UNEXPECTED_ERROR
