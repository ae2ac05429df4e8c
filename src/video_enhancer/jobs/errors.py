"""Errors of the jobs domain."""

from __future__ import annotations

from video_enhancer.errors import NotFound


class JobNotFound(NotFound):
    default_message = "The job does not exist."
