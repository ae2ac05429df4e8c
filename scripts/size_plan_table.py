"""Print the size-plan table of docs/worker.md from the real sizing code (`media.sizing`)."""

from __future__ import annotations

from video_enhancer.billing.plans import PLANS
from video_enhancer.enhancers.base import Size
from video_enhancer.videos.size_plan import visible_plan

SOURCES: tuple[tuple[str, Size], ...] = (
    ("240p", (426, 240)),
    ("480p", (854, 480)),
    ("720p", (1280, 720)),
    ("1080p", (1920, 1080)),
    ("4K", (3840, 2160)),
)


def _cell(size: Size) -> str:
    return f"{size[0]}x{size[1]}"


def _row(label: str, source: Size) -> str:
    cells = [label, _cell(source)]
    for limits in PLANS.values():
        lanczos = visible_plan(source, limits.max_output_height, "lanczos")
        model = visible_plan(source, limits.max_output_height, "stream-diffvsr")
        cells.append(f"{_cell(lanczos.output)} (x4 model reads {_cell(model.model_input)})")
    return "| " + " | ".join(cells) + " |"


def size_plan_table() -> str:
    plans = [f"{plan} output (max {limits.max_output_height})" for plan, limits in PLANS.items()]
    header = ["source", "upright size", *plans]
    rows = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for label, (width, height) in SOURCES:
        rows.append(_row(f"{label} landscape", (width, height)))
        rows.append(_row(f"{label} portrait", (height, width)))
    return "\n".join(rows)


if __name__ == "__main__":
    print(size_plan_table())
