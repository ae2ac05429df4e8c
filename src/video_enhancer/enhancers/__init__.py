"""Super-resolution methods behind one interface (see ``base.py`` for the contract)."""

from video_enhancer.enhancers.base import Enhancer, EnhancerError, EnhancerSession, Frame, Size
from video_enhancer.enhancers.registry import (
    ENHANCERS,
    EnhancerChoice,
    EnhancerSpec,
    EnhancerUnavailableError,
    UnknownEnhancerError,
    choose_enhancer,
    enhancer_names,
    get_enhancer,
    get_enhancer_spec,
)

__all__ = [
    "ENHANCERS",
    "Enhancer",
    "EnhancerChoice",
    "EnhancerError",
    "EnhancerSession",
    "EnhancerSpec",
    "EnhancerUnavailableError",
    "Frame",
    "Size",
    "UnknownEnhancerError",
    "choose_enhancer",
    "enhancer_names",
    "get_enhancer",
    "get_enhancer_spec",
]
