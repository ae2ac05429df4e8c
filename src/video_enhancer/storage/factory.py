"""Pick the storage backend from settings."""

from __future__ import annotations

from video_enhancer.config import Settings
from video_enhancer.storage.base import Storage


def make_storage(settings: Settings) -> Storage:
    storage = _backend(settings)
    if settings.download_urls == "cdn":
        from video_enhancer.storage.cdn import CdnDownloads

        assert settings.cdn_base_url and settings.cdn_key_name and settings.cdn_key  # checked by Settings
        return CdnDownloads(
            storage, settings.cdn_base_url, settings.cdn_key_name, settings.cdn_key.get_secret_value()
        )  # type: ignore[return-value]
    return storage


def _backend(settings: Settings) -> Storage:
    if settings.storage == "gcs":
        from video_enhancer.storage.gcs import GcsStorage

        return GcsStorage.from_settings(settings)
    from video_enhancer.storage.local import LocalStorage

    return LocalStorage.from_settings(settings)
