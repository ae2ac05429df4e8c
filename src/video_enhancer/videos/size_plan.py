"""The size plan a user sees: what the enhancer will receive and what the output will be.

Computed by the same function the pipeline uses (`media.sizing.plan_sizes`) from the upright
source size (claimed by the app at upload, measured by the worker's probe afterwards), the plan's
maximum output height snapshotted on the job, and the enhancer's fixed scale.
"""

from __future__ import annotations

from dataclasses import dataclass

from video_enhancer.enhancers.base import Size
from video_enhancer.enhancers.registry import ENHANCERS
from video_enhancer.media.sizing import plan_sizes


@dataclass(frozen=True, slots=True)
class VisibleSizePlan:
    source: Size
    model_input: Size
    output: Size
    enhancer: str


def visible_plan(source: Size, max_output_height: int, enhancer: str) -> VisibleSizePlan:
    spec = ENHANCERS.get(enhancer)
    sizes = plan_sizes(source, max_output_height, spec.native_scale if spec else None)
    return VisibleSizePlan(sizes.source, sizes.enhancer_input, sizes.output, enhancer)


def parse_resolution(resolution: str | None) -> Size | None:
    """ "WIDTHxHEIGHT" as the worker records it (upright), or None before the probe."""
    if not resolution:
        return None
    width, _, height = resolution.partition("x")
    if not (width.isdigit() and height.isdigit()):
        return None
    return int(width), int(height)
