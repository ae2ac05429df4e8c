"""One claimed preview: download, probe, `media.preview.make_preview`, check and sign `after`
like a job's output, store the three files.

`after` passes the same checks as a full output before anyone sees it: its fidelity to the span
(an absurd one fails the preview with OUTPUT_REJECTED and counts in the same metric), then its
C2PA Content Credentials, signed and read back (the facts are kept on the preview and shown).
Never raises for a bad video: media errors fail the preview with their code, anything else with
INTERNAL_ERROR (a preview is cheap to ask again; it is not retried here). Nothing is charged.
"""

from __future__ import annotations

import logging
from pathlib import Path

from sqlalchemy.orm import Session, sessionmaker

from video_enhancer.config import Settings
from video_enhancer.enhancers.base import Enhancer
from video_enhancer.errors import ServiceError
from video_enhancer.media.encode import EncoderSettings
from video_enhancer.media.pipeline import PipelineConfig
from video_enhancer.media.preview import PreviewResult, make_preview
from video_enhancer.media.probe import probe
from video_enhancer.media.quality import FidelityThresholds, OutputRejected, check_fidelity
from video_enhancer.models import Preview, Video
from video_enhancer.observability.metrics import OUTPUTS_REJECTED
from video_enhancer.previews.service import (
    ClaimedPreview,
    PreviewMade,
    complete_preview,
    fail_preview,
    video_of,
)
from video_enhancer.provenance.service import credential_output, signing_pair
from video_enhancer.storage import keys
from video_enhancer.storage.base import Storage
from video_enhancer.worker.scratch import job_scratch

logger = logging.getLogger(__name__)

_CONTENT_TYPES = {"before.mp4": "video/mp4", "after.mp4": "video/mp4", "compare.jpg": "image/jpeg"}


class PreviewRunner:
    def __init__(
        self, settings: Settings, session_factory: sessionmaker[Session], storage: Storage, enhancer: Enhancer
    ) -> None:
        self.settings = settings
        self.session_factory = session_factory
        self.storage = storage
        self.enhancer = enhancer

    def run(self, claimed: ClaimedPreview) -> bool:
        """True when the preview completed."""
        try:
            with job_scratch(self.settings.worker_scratch_dir, f"preview-{claimed.preview_id}") as scratch:
                return self._run(claimed, scratch)
        except ServiceError as exc:
            logger.warning("preview failed", extra={"error_code": exc.code})
            fail_preview(self.session_factory, claimed, exc.code, str(exc))
        except Exception:
            logger.exception("preview failed unexpectedly")
            fail_preview(self.session_factory, claimed, "INTERNAL_ERROR", "The preview could not be made.")
        return False

    def _run(self, claimed: ClaimedPreview, scratch: Path) -> bool:
        found = video_of(self.session_factory, claimed)
        if found is None:
            fail_preview(self.session_factory, claimed, "NOT_FOUND", "The video no longer exists.")
            return False
        video, preview = found
        source = scratch / ("source" + Path(video.storage_path).suffix)
        self.storage.download_to("raw", video.storage_path, source)
        result = make_preview(
            probe(source),
            scratch / "preview.mp4",
            self.enhancer,
            self._config(preview),
            seconds=preview.seconds,
            start_s=preview.requested_start_seconds,
            work_dir=scratch,
        )
        self._check_fidelity(result)
        credentials = self._credentials(source, result)
        self._store(video, preview, result)
        made = PreviewMade(
            result.start_s, result.pipeline.enhancer, dict(result.fidelity.as_json()), credentials
        )
        return complete_preview(self.session_factory, claimed, made)

    def _check_fidelity(self, result: PreviewResult) -> None:
        thresholds = FidelityThresholds(self.settings.output_min_psnr_db, self.settings.output_min_ssim)
        try:
            check_fidelity(result.fidelity, thresholds)
        except OutputRejected:
            OUTPUTS_REJECTED.labels(enhancer=result.pipeline.enhancer).inc()
            raise

    def _credentials(self, source: Path, result: PreviewResult) -> dict[str, object] | None:
        """`after` is marked like any output: the uploaded source is its ingredient."""
        pair = signing_pair(self.settings)
        if pair is None:
            return None
        return credential_output(
            pair, source, result.files.after, result.pipeline.enhancer, result.pipeline.sizes
        )

    def _config(self, preview: Preview) -> PipelineConfig:
        return PipelineConfig(
            max_height=preview.max_output_height,
            segment_seconds=self.settings.segment_seconds,
            encoder=EncoderSettings(
                codec=self.settings.encoder,
                preset=self.settings.encoder_preset,
                crf=self.settings.encoder_crf,
            ),
        )

    def _store(self, video: Video, preview: Preview, result: PreviewResult) -> None:
        files = {
            "before.mp4": result.files.before,
            "after.mp4": result.files.after,
            "compare.jpg": result.files.compare,
        }
        for name, path in files.items():
            key = keys.preview_file_key(video.user_id, video.id, preview.id, name)
            self.storage.put_file("enhanced", key, path, _CONTENT_TYPES[name])
