"""Every object key the service writes, made in one place.

Layout (the same on both backends; the area is the bucket or top folder)::

    raw       users/<user>/videos/<video>/source<.ext>            the upload
    enhanced  users/<user>/videos/<video>/enhanced-<job>.mp4      a job's result
    enhanced  users/<user>/videos/<video>/preview-<job>.mp4       a job's short preview (to come)
    enhanced  users/<user>/videos/<video>/thumbnail-<job>.jpg     a job's poster frame (to come)
    enhanced  jobs/<job>/segments/<index:06d><suffix>             a job's checkpointed segments

Everything of a video lives under `video_prefix`, everything of a job outside it under
`job_prefix`, so deleting a video is two prefix deletes per area whatever gets added later.
"""

from __future__ import annotations

import re
import uuid

_RAW_KEY = re.compile(r"users/([0-9a-f-]{36})/videos/([0-9a-f-]{36})/source(\.[a-z0-9]+)?")
_SEGMENT_KEY = re.compile(r"jobs/[0-9a-f-]{36}/segments/(\d{6})(\.[a-z0-9]+)")


def video_prefix(user_id: uuid.UUID, video_id: uuid.UUID) -> str:
    """Every object of one video: its upload and the results of all its jobs."""
    return f"users/{user_id}/videos/{video_id}/"


def raw_key(user_id: uuid.UUID, video_id: uuid.UUID, extension: str) -> str:
    """The uploaded file; `extension` (".mp4", or "") keeps it recognisable."""
    return f"{video_prefix(user_id, video_id)}source{extension}"


def output_key(user_id: uuid.UUID, video_id: uuid.UUID, job_id: uuid.UUID) -> str:
    """The enhanced MP4 of one job (one per job, so a rerun never overwrites a served result)."""
    return f"{video_prefix(user_id, video_id)}enhanced-{job_id}.mp4"


def preview_key(user_id: uuid.UUID, video_id: uuid.UUID, job_id: uuid.UUID) -> str:
    """A short before/after preview clip of one job."""
    return f"{video_prefix(user_id, video_id)}preview-{job_id}.mp4"


def thumbnail_key(user_id: uuid.UUID, video_id: uuid.UUID, job_id: uuid.UUID) -> str:
    """A poster frame of one job's result."""
    return f"{video_prefix(user_id, video_id)}thumbnail-{job_id}.jpg"


def poster_key(user_id: uuid.UUID, video_id: uuid.UUID) -> str:
    """The source's poster image."""
    return f"{video_prefix(user_id, video_id)}poster.jpg"


def storyboard_key(user_id: uuid.UUID, video_id: uuid.UUID, suffix: str) -> str:
    """The source's storyboard: the sprite sheet (".jpg") or its timing (".json")."""
    if suffix not in (".jpg", ".json"):
        raise ValueError(f"Unknown storyboard file {suffix!r}.")
    return f"{video_prefix(user_id, video_id)}storyboard{suffix}"


PREVIEW_FILES = ("before.mp4", "after.mp4", "compare.jpg")


def preview_file_key(user_id: uuid.UUID, video_id: uuid.UUID, preview_id: uuid.UUID, name: str) -> str:
    """One of a preview's files (`PREVIEW_FILES`), under its video so deleting the video removes it."""
    if name not in PREVIEW_FILES:
        raise ValueError(f"Unknown preview file {name!r}.")
    return f"{video_prefix(user_id, video_id)}previews/{preview_id}/{name}"


def job_prefix(job_id: uuid.UUID) -> str:
    """Every working object of one job (its segments today)."""
    return f"jobs/{job_id}/"


def segments_prefix(job_id: uuid.UUID) -> str:
    """The checkpointed segments of one job."""
    return f"{job_prefix(job_id)}segments/"


def segment_key(job_id: uuid.UUID, index: int, suffix: str) -> str:
    """One file of a checkpointed segment: `.mp4` piece, `.state` enhancer state, `.json` marker."""
    return f"{segments_prefix(job_id)}{index:06d}{suffix}"


def segment_index(key: str) -> int | None:
    """The segment number in a `segment_key`, or None for any other key."""
    match = _SEGMENT_KEY.fullmatch(key)
    return int(match.group(1)) if match else None


def video_id_of_raw_key(key: str) -> uuid.UUID | None:
    """The video a `raw_key` names, or None when the key is not one."""
    match = _RAW_KEY.fullmatch(key)
    return uuid.UUID(match.group(2)) if match else None
