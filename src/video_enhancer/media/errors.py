"""Media errors: every failure of the media pipeline ends up as one of these.

Hierarchy (codes are stable; the worker stores them on the job, the CLI prints them)::

    ServiceError
    └── MediaError                  MEDIA_ERROR
        ├── InvalidVideo            INVALID_VIDEO      not a video, truncated, empty, no video stream
        │   └── NotAVideo           NOT_A_VIDEO        a still image under a video's name
        ├── MediaLimitExceeded      MEDIA_LIMIT_EXCEEDED  more work per charged minute than allowed
        │   ├── FrameTooLarge       FRAME_TOO_LARGE    more input pixels per frame than allowed
        │   ├── FrameRateTooHigh    FRAME_RATE_TOO_HIGH  a frame rate above the limit
        │   └── TooManyFrames       TOO_MANY_FRAMES    more frames per charged minute than allowed
        ├── UnsupportedCodec        UNSUPPORTED_CODEC  a video stream this build cannot decode
        ├── DecodeFailed            DECODE_FAILED      decoding broke down mid-way
        ├── EncodeFailed            ENCODE_FAILED      the encoder or muxer failed
        ├── EncoderUnavailable      ENCODER_UNAVAILABLE  asked for an encoder not in this build
        ├── EnhancementFailed       ENHANCEMENT_FAILED the enhancer raised
        ├── OutputVerificationFailed  OUTPUT_VERIFICATION_FAILED
        └── PipelineStopped         PIPELINE_STOPPED   should_stop() asked us to stop; resumable

No HTTP status: these never answer a request. ``detail`` carries FFmpeg's message or stderr for
logs; ``message`` is for users.
"""

from __future__ import annotations

from video_enhancer.errors import ServiceError


class MediaError(ServiceError):
    default_code = "MEDIA_ERROR"
    default_message = "The video could not be processed."


class InvalidVideo(MediaError):
    default_code = "INVALID_VIDEO"
    default_message = "The file is not a readable video."


class UnsupportedCodec(MediaError):
    default_code = "UNSUPPORTED_CODEC"
    default_message = "The video uses a codec that is not supported."


class DecodeFailed(MediaError):
    default_code = "DECODE_FAILED"
    default_message = "The video could not be decoded to the end."


class EncodeFailed(MediaError):
    default_code = "ENCODE_FAILED"
    default_message = "The enhanced video could not be encoded."


class EncoderUnavailable(MediaError):
    default_code = "ENCODER_UNAVAILABLE"
    default_message = "The requested video encoder is not available on this machine."


class EnhancementFailed(MediaError):
    default_code = "ENHANCEMENT_FAILED"
    default_message = "The enhancement model failed on this video."


class OutputVerificationFailed(MediaError):
    default_code = "OUTPUT_VERIFICATION_FAILED"
    default_message = "The enhanced video did not pass verification."


class PipelineStopped(MediaError):
    """Raised when ``should_stop()`` returned True; finished segments stay checkpointed."""

    default_code = "PIPELINE_STOPPED"
    default_message = "Processing was stopped before the end; it can resume."


class NotAVideo(InvalidVideo):
    """A still picture (PNG, JPEG...) under a video's name."""

    default_code = "NOT_A_VIDEO"
    default_message = "The file is a still image, not a video."


class MediaLimitExceeded(MediaError):
    """The video asks for more work per charged minute than the service allows (see MediaLimits)."""

    default_code = "MEDIA_LIMIT_EXCEEDED"
    default_message = "The video exceeds the service's processing limits."


class FrameTooLarge(MediaLimitExceeded):
    default_code = "FRAME_TOO_LARGE"
    default_message = "The video's picture is larger than the service accepts."


class FrameRateTooHigh(MediaLimitExceeded):
    default_code = "FRAME_RATE_TOO_HIGH"
    default_message = "The video's frame rate is higher than the service accepts."


class TooManyFrames(MediaLimitExceeded):
    default_code = "TOO_MANY_FRAMES"
    default_message = "The video has more frames per minute than the service accepts."
