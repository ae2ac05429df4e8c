"""Poster images and storyboards: pictures of a video for lists and scrubbing.

The poster is the most detailed of frames sampled four times a second (never the black frame
many phone clips open with), upright, as a JPEG. The storyboard is a sprite sheet of frames at a
fixed interval with a JSON of where each tile is and when it starts, as players expect for
scrubbing previews.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from video_enhancer.enhancers.base import Size
from video_enhancer.media.decode import iter_frames
from video_enhancer.media.preview import detail_of
from video_enhancer.media.probe import MediaInfo

POSTER_MAX_SIDE = 1280
STORYBOARD_TILE_WIDTH = 160
STORYBOARD_COLUMNS = 10
STORYBOARD_MAX_TILES = 100


def _fit(info: MediaInfo, longest: int) -> Size:
    width, height = info.video.width, info.video.height
    factor = min(1.0, longest / max(width, height))
    return max(2, round(width * factor)), max(2, round(height * factor))


def poster_pts(info: MediaInfo, per_second: float = 4.0) -> int:
    """The timestamp of the most detailed sampled frame (the first frame of a flat video)."""
    every = max(1, round(float(info.video.frame_rate or 1) / per_second))
    best_pts, best_detail = info.video.first_pts, -1.0
    for index, frame in enumerate(iter_frames(info, _fit(info, 160))):
        if index % every:
            continue
        detail = detail_of(frame.image)
        if detail > best_detail:
            best_pts, best_detail = frame.pts, detail
    return best_pts


def write_poster(info: MediaInfo, path: Path) -> float:
    """Write the poster JPEG; returns its time in seconds from the start."""
    pts = poster_pts(info)
    frame = next(iter_frames(info, _fit(info, POSTER_MAX_SIDE), pts))
    Image.fromarray(frame.image).save(path, format="JPEG", quality=85)
    return float((frame.pts - info.video.first_pts) * info.video.time_base)


@dataclass(frozen=True, slots=True)
class Storyboard:
    tiles: int
    tile_size: Size
    interval_s: float


def storyboard_interval(duration_s: float) -> float:
    """One tile a second, fewer for long videos (at most `STORYBOARD_MAX_TILES`)."""
    return max(1.0, duration_s / STORYBOARD_MAX_TILES)


def write_storyboard(info: MediaInfo, image_path: Path, timing_path: Path) -> Storyboard:
    """A sprite sheet (JPEG, `STORYBOARD_COLUMNS` tiles a row) and its timing JSON."""
    tile = _fit(info, STORYBOARD_TILE_WIDTH)
    interval = storyboard_interval(info.duration_s)
    picked: list[tuple[float, np.ndarray]] = []
    for frame in iter_frames(info, tile):
        seconds = float((frame.pts - info.video.first_pts) * frame.time_base)
        if seconds + 1e-6 >= len(picked) * interval and len(picked) < STORYBOARD_MAX_TILES:
            picked.append((seconds, frame.image))
    columns = min(STORYBOARD_COLUMNS, len(picked))
    rows = math.ceil(len(picked) / columns)
    sheet = Image.new("RGB", (columns * tile[0], rows * tile[1]))
    timing = []
    for index, (seconds, image) in enumerate(picked):
        x, y = (index % columns) * tile[0], (index // columns) * tile[1]
        sheet.paste(Image.fromarray(image), (x, y))
        timing.append({"start": round(seconds, 3), "x": x, "y": y})
    sheet.save(image_path, format="JPEG", quality=80)
    document = {"tileWidth": tile[0], "tileHeight": tile[1], "intervalSeconds": interval, "tiles": timing}
    timing_path.write_text(json.dumps(document))
    return Storyboard(len(picked), tile, interval)
