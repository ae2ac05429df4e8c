"""Enhancers by name. Heavy ones (torch) are imported only when asked for."""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any

from video_enhancer.enhancers.base import Enhancer, EnhancerError


class UnknownEnhancerError(EnhancerError):
    default_code = "UNKNOWN_ENHANCER"


class EnhancerUnavailableError(EnhancerError):
    """The enhancer exists but cannot be loaded here (missing torch, weights or device)."""

    default_code = "ENHANCER_UNAVAILABLE"


@dataclass(frozen=True)
class EnhancerSpec:
    name: str
    module: str
    class_name: str
    classical: bool
    """True for the classical resampling fallback; recorded so results can say so."""
    description: str
    native_scale: int | None = None
    """The enhancer's fixed scale (its class's ``native_scale``), known without importing it."""


ENHANCERS: dict[str, EnhancerSpec] = {
    spec.name: spec
    for spec in (
        EnhancerSpec(
            "lanczos",
            "video_enhancer.enhancers.lanczos",
            "LanczosEnhancer",
            classical=True,
            description="Classical fallback: Lanczos resampling with mild unsharp masking (no AI model).",
        ),
        EnhancerSpec(
            "stream-diffvsr",
            "video_enhancer.enhancers.stream_diffvsr",
            "StreamDiffVSREnhancer",
            classical=False,
            description="Stream-DiffVSR x4 diffusion video super-resolution.",
            native_scale=4,
        ),
    )
}


def enhancer_names() -> list[str]:
    return list(ENHANCERS)


def get_enhancer_spec(name: str) -> EnhancerSpec:
    try:
        return ENHANCERS[name]
    except KeyError:
        raise UnknownEnhancerError(
            f"Unknown enhancer {name!r}; choose one of {', '.join(ENHANCERS)}."
        ) from None


@dataclass(frozen=True)
class EnhancerChoice:
    """The enhancer the settings select, decided without importing it (no torch in the API)."""

    name: str
    classical: bool
    reason: str

    def describe(self) -> str:
        label = ", the classical fallback" if self.classical else ""
        return f"{self.name}{label} ({self.reason})"


def choose_enhancer(requested: str, *, model_configured: bool) -> EnhancerChoice:
    """`auto` picks Stream-DiffVSR when weights are configured and the Lanczos fallback otherwise."""
    if requested != "auto":
        spec = get_enhancer_spec(requested)
        return EnhancerChoice(spec.name, spec.classical, f"VE_ENHANCER={requested}")
    if model_configured:
        return EnhancerChoice("stream-diffvsr", False, "auto: model weights are configured")
    return EnhancerChoice(
        "lanczos", True, "auto: no model weights configured; set VE_MODEL_PATH or VE_MODEL_ID"
    )


def get_enhancer(name: str, **kwargs: Any) -> Enhancer:
    """Construct the enhancer called ``name``; ``kwargs`` go to its constructor."""
    spec = get_enhancer_spec(name)
    try:
        module = importlib.import_module(spec.module)
    except ImportError as exc:
        raise EnhancerUnavailableError(
            f"The {name!r} enhancer cannot be loaded on this machine.", detail=str(exc)
        ) from exc
    enhancer_class = getattr(module, spec.class_name)
    enhancer: Enhancer = enhancer_class(**kwargs)
    return enhancer
