"""Pick the storage backend from settings."""

from __future__ import annotations

from video_enhancer.config import Settings
from video_enhancer.storage.base import Storage


def make_storage(settings: Settings) -> Storage:
    if settings.storage == "gcs":
        from video_enhancer.storage.gcs import GcsStorage

        return GcsStorage.from_settings(settings)
    from video_enhancer.storage.local import LocalStorage

    return LocalStorage.from_settings(settings)
