from __future__ import annotations

from video_enhancer.api.schemas import CamelModel
from video_enhancer.catalogue.service import CatalogueEntry
from video_enhancer.jobs.schemas import EnhancerName
from video_enhancer.models import Plan


class EnhancerOut(CamelModel):
    name: EnhancerName
    title: str
    description: str
    native_scale: int | None
    """Fixed upscaling factor, or null for any output size."""
    classical: bool
    plans: list[Plan]
    available: bool
    """A live worker has it loaded."""
    frames_per_second: float | None
    """Measured by workers at 1280x720 output (best live worker); null until measured."""

    @classmethod
    def from_entry(cls, entry: CatalogueEntry) -> EnhancerOut:
        spec = entry.spec
        return cls(
            name=EnhancerName(spec.name),
            title=spec.title or spec.name,
            description=spec.description,
            native_scale=spec.native_scale,
            classical=spec.classical,
            plans=list(entry.plans),
            available=entry.available,
            frames_per_second=entry.frames_per_second,
        )


class EnhancerCatalogue(CamelModel):
    items: list[EnhancerOut]
