from __future__ import annotations

from video_enhancer.errors import RateLimited


class PreviewLimitReached(RateLimited):
    default_code = "PREVIEW_LIMIT_REACHED"
    default_message = "Your plan's previews for the last 24 hours are used up."
