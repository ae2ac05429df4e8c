"""Media library: probe, decode, enhance pipeline, encode, join, verify (no torch here)."""

from video_enhancer.media.encode import EncoderSettings
from video_enhancer.media.errors import (
    DecodeFailed,
    EncodeFailed,
    EncoderUnavailable,
    EnhancementFailed,
    FrameRateTooHigh,
    FrameTooLarge,
    InvalidVideo,
    MediaError,
    MediaLimitExceeded,
    NotAVideo,
    OutputVerificationFailed,
    PipelineStopped,
    TooManyFrames,
    UnsupportedCodec,
)
from video_enhancer.media.limits import MediaLimits
from video_enhancer.media.pipeline import PipelineConfig, PipelineResult, Progress, run_pipeline
from video_enhancer.media.probe import AudioTrack, MediaInfo, ProbeOptions, VideoTrack, probe
from video_enhancer.media.segments import Checkpoint, FinishedSegment, LocalCheckpoint
from video_enhancer.media.sizing import SizePlan, output_size, plan_sizes
from video_enhancer.media.verify import VerifiedOutput, verify_output

__all__ = [
    "AudioTrack",
    "Checkpoint",
    "DecodeFailed",
    "EncodeFailed",
    "EncoderSettings",
    "EncoderUnavailable",
    "EnhancementFailed",
    "FinishedSegment",
    "FrameRateTooHigh",
    "FrameTooLarge",
    "InvalidVideo",
    "LocalCheckpoint",
    "MediaError",
    "MediaInfo",
    "MediaLimitExceeded",
    "MediaLimits",
    "NotAVideo",
    "OutputVerificationFailed",
    "PipelineConfig",
    "PipelineResult",
    "PipelineStopped",
    "ProbeOptions",
    "Progress",
    "SizePlan",
    "TooManyFrames",
    "UnsupportedCodec",
    "VerifiedOutput",
    "VideoTrack",
    "output_size",
    "plan_sizes",
    "probe",
    "run_pipeline",
    "verify_output",
]
