"""Decode -> enhance -> encode as one streaming pipeline.

Each lane of a run is four threads joined by bounded queues (``media.lanes``): memory is
bounded by the queue sizes, whatever the length of the video. Frames stay in memory; nothing is
written to disk except encoded pieces.

Steps of ``run_pipeline``:
1. plan sizes and segments, check the encoder exists;
2. ask the checkpoint which segments are already done;
3. stream the missing segments as lanes (``media.segments.plan_lanes``), saving each piece and
   the enhancer state: one lane after another, or up to ``max_lanes`` at once when the enhancer
   batches sessions and has room (one long video then fills an idle GPU's batch by itself);
4. join all pieces without re-encoding and add the source audio once.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import shutil
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from video_enhancer.enhancers.base import Enhancer, ParallelEnhancer
from video_enhancer.media.encode import EncoderSettings, check_encoder
from video_enhancer.media.join import Piece, join_pieces
from video_enhancer.media.lanes import RunPlan, StickyStop, run_lanes
from video_enhancer.media.probe import MediaInfo
from video_enhancer.media.segments import Checkpoint, finished_segments, plan_lanes, plan_segments
from video_enhancer.media.sizing import SizePlan, plan_sizes

PROGRESS_INTERVAL_S = 1.0


@dataclass(frozen=True)
class PipelineConfig:
    max_height: int = 1080
    """The plan's maximum output height (720 or 1080)."""
    scale: float = 4.0
    """Upscaling factor cap: output height is at most scale x input height."""
    segment_seconds: float = 4.0
    encoder: EncoderSettings = field(default_factory=EncoderSettings)
    queue_size: int = 8
    """Frames buffered between stages; bounds memory."""
    max_lanes: int = 1
    """Lanes of one video run at once, when the enhancer has that many idle streams."""
    warmup_frames: int = 8
    """Frames a lane starting cold mid-video enhances and discards first (ADR 0009)."""
    hardware_decode: bool = False
    """Decode with NVDEC where it is usable (``media.nvdec``); the CPU decoder elsewhere."""


@dataclass(frozen=True)
class Progress:
    stage: str
    """"enhancing" while frames flow, "encoding" while the pieces are joined."""
    percent: float
    frames_done: int
    frames_total: int
    fps: float
    eta_s: float | None


ProgressCallback = Callable[[Progress], None]


@dataclass(frozen=True)
class PipelineResult:
    output: Path
    sizes: SizePlan
    enhancer: str
    frames: int
    segments: int
    resumed_segments: int
    """Segments taken from the checkpoint instead of being computed in this run."""


def run_pipeline(
    info: MediaInfo,
    output: Path,
    enhancer: Enhancer,
    config: PipelineConfig = PipelineConfig(),
    *,
    checkpoint: Checkpoint | None = None,
    work_dir: Path | None = None,
    progress: ProgressCallback | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> PipelineResult:
    """Enhance the probed video ``info`` into ``output`` (MP4). See the module docstring."""
    sizes = plan_sizes(
        (info.video.width, info.video.height), config.max_height, enhancer.native_scale, config.scale
    )
    check_encoder(config.encoder)
    spans = plan_segments(info.video, config.segment_seconds)
    fingerprint = plan_fingerprint(info, sizes, enhancer, config)
    done = finished_segments(checkpoint.load(), spans, fingerprint) if checkpoint else {}
    streams = lane_streams(enhancer, config)
    lanes = plan_lanes(spans, done, streams, config.warmup_frames)
    reporter = _Reporter(progress, info.video.frame_count, sum(spans[i].frame_count for i in done))
    # Named here and made inside the try: a KeyboardInterrupt (the CLI's abort) that lands while
    # the folder is being made still has it removed, which TemporaryDirectory cannot promise.
    scratch = Path(work_dir or output.parent) / f"enhance-{secrets.token_hex(8)}"
    try:
        scratch.mkdir(mode=0o700)
        plan = RunPlan(
            info,
            sizes,
            enhancer,
            config.encoder,
            config.hardware_decode,
            config.queue_size,
            scratch,
            checkpoint,
            fingerprint,
            reporter,
        )
        new_pieces = run_lanes(plan, lanes, streams, done, StickyStop(should_stop))
        old_pieces = [Piece(d.piece_path, spans[d.index].start_pts) for d in done.values()]
        pieces = sorted(old_pieces + new_pieces, key=lambda piece: piece.start_pts)
        reporter.report("encoding", force=True)
        _join_atomically(info, pieces, output)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return PipelineResult(output, sizes, enhancer.name, info.video.frame_count, len(spans), len(done))


def lane_streams(enhancer: Enhancer, config: PipelineConfig) -> int:
    """Lanes to run at once: what the config allows and a batching enhancer has room for now."""
    if config.max_lanes <= 1 or not isinstance(enhancer, ParallelEnhancer):
        return 1
    return max(1, min(config.max_lanes, enhancer.idle_streams()))


def plan_fingerprint(info: MediaInfo, sizes: SizePlan, enhancer: Enhancer, config: PipelineConfig) -> str:
    """Checkpoints are reused only by a run that would produce exactly the same pieces."""
    facts: dict[str, Any] = {
        "input": [info.size_bytes, info.video.frame_count, info.video.first_pts, info.video.end_pts],
        "sizes": asdict(sizes),
        "enhancer": enhancer.name,
        "encoder": asdict(config.encoder),
        "segment_seconds": config.segment_seconds,
    }
    return hashlib.sha256(json.dumps(facts, sort_keys=True).encode()).hexdigest()[:32]


def _join_atomically(info: MediaInfo, pieces: Sequence[Piece], output: Path) -> None:
    partial = output.with_name(output.name + ".partial")
    try:
        join_pieces(info, pieces, partial)
        os.replace(partial, output)
    finally:
        partial.unlink(missing_ok=True)


class _Reporter:
    """Calls the progress callback at most once per PROGRESS_INTERVAL_S (from any lane's thread)."""

    def __init__(self, callback: ProgressCallback | None, total: int, already_done: int) -> None:
        self._callback = callback
        self._total = total
        self.done = already_done
        self._start_done = already_done
        self._started = time.monotonic()
        self._last = 0.0
        self._lock = threading.Lock()

    def frame_done(self) -> None:
        with self._lock:
            self.done += 1
        self.report("enhancing")

    def report(self, stage: str, force: bool = False) -> None:
        now = time.monotonic()
        with self._lock:
            if self._callback is None or (not force and now - self._last < PROGRESS_INTERVAL_S):
                return
            self._last = now
        fps = (self.done - self._start_done) / max(now - self._started, 1e-6)
        remaining = self._total - self.done
        eta = remaining / fps if fps > 0 else None
        percent = 100.0 * self.done / self._total if self._total else 100.0
        self._callback(Progress(stage, round(percent, 2), self.done, self._total, round(fps, 2), eta))
