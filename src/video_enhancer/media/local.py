"""Enhance a local file end to end: probe, enhance, verify. The core of ``video-enhancer enhance``."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from video_enhancer.enhance_options import ENHANCE_DEFAULTS
from video_enhancer.enhancers.registry import get_enhancer
from video_enhancer.media.encode import EncoderSettings
from video_enhancer.media.interlace import DeinterlaceRate
from video_enhancer.media.pipeline import PipelineConfig, PipelineResult, ProgressCallback, run_pipeline
from video_enhancer.media.preview import PreviewResult, make_preview
from video_enhancer.media.probe import MediaInfo, ProbeOptions, probe
from video_enhancer.media.segments import LocalCheckpoint
from video_enhancer.media.verify import VerifiedOutput, verify_output


def preview_file(args: Any, enhancer_options: dict[str, Any]) -> PreviewResult:
    """The CLI's ``--preview``: ``args`` carries the enhance command's flags."""
    source = probe(args.input)
    config = PipelineConfig(
        max_height=args.max_height,
        scale=args.scale,
        segment_seconds=args.segment_seconds,
        encoder=EncoderSettings(codec=args.encoder, preset=args.preset, crf=args.crf),
    )
    enhancer = get_enhancer(args.model, **enhancer_options)
    return make_preview(
        source, Path(args.output), enhancer, config, seconds=args.preview_seconds, start_s=args.start
    )


@dataclass(frozen=True)
class EnhanceResult:
    source: MediaInfo
    pipeline: PipelineResult
    verified: VerifiedOutput


def enhance_file(
    input_path: str | os.PathLike[str],
    output_path: str | os.PathLike[str],
    *,
    model: str = "lanczos",
    max_height: int = ENHANCE_DEFAULTS.max_height,
    scale: float = ENHANCE_DEFAULTS.scale,
    crf: int = ENHANCE_DEFAULTS.crf,
    preset: str = ENHANCE_DEFAULTS.preset,
    encoder: str = ENHANCE_DEFAULTS.encoder,
    segment_seconds: float = ENHANCE_DEFAULTS.segment_seconds,
    deinterlace: DeinterlaceRate = "field",
    checkpoint_dir: str | os.PathLike[str] | None = None,
    enhancer_options: dict[str, Any] | None = None,
    progress: ProgressCallback | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> EnhanceResult:
    """Enhance ``input_path`` into ``output_path``; with ``checkpoint_dir`` a rerun resumes.

    ``should_stop`` is asked between segments; when it answers True the run ends with
    ``PipelineStopped`` after saving the current segment (see ``run_pipeline``).
    """
    source = probe(input_path, ProbeOptions(deinterlace=deinterlace))
    enhancer = get_enhancer(model, **(enhancer_options or {}))
    config = PipelineConfig(
        max_height=max_height,
        scale=scale,
        segment_seconds=segment_seconds,
        encoder=EncoderSettings(codec=encoder, preset=preset, crf=crf),
    )
    checkpoint = LocalCheckpoint(Path(checkpoint_dir)) if checkpoint_dir is not None else None
    result = run_pipeline(
        source,
        Path(output_path),
        enhancer,
        config,
        checkpoint=checkpoint,
        progress=progress,
        should_stop=should_stop,
    )
    verified = verify_output(source, output_path, result.sizes.output)
    if checkpoint is not None:
        checkpoint.clear()  # the output is verified; the pieces are no longer needed
    return EnhanceResult(source, result, verified)
