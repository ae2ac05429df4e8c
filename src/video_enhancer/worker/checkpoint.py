"""Segment checkpoints in storage, so any worker can resume a job at its last finished segment.

Layout in the enhanced area, under ``jobs/<job_id>/segments/``::

    000003.mp4    the encoded piece of segment 3
    000003.state  the enhancer's state after its last frame (Stream-DiffVSR's previous frames)
    000003.json   metadata (plan fingerprint, timestamps); written LAST, it marks the segment done

Storage writes of one object are atomic on both backends, and the JSON goes last, so a worker
killed mid-save leaves a segment that `load` does not list (it is recomputed).
"""

from __future__ import annotations

import io
import json
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from video_enhancer.media.segments import FinishedSegment
from video_enhancer.storage import keys
from video_enhancer.storage.base import Area, Storage

AREA: Area = "enhanced"


class StorageCheckpoint:
    """A media `Checkpoint` backed by `Storage`; pieces are fetched into `local_dir` to join."""

    def __init__(self, storage: Storage, job_id: uuid.UUID, local_dir: Path) -> None:
        self.storage = storage
        self.job_id = job_id
        self.prefix = keys.segments_prefix(job_id)
        self.local_dir = local_dir
        self.local_dir.mkdir(parents=True, exist_ok=True)

    def _key(self, index: int, suffix: str) -> str:
        return keys.segment_key(self.job_id, index, suffix)

    def load(self) -> list[FinishedSegment]:
        finished = []
        for key in self.storage.list_keys(AREA, self.prefix):
            index = keys.segment_index(key)
            if index is not None and key.endswith(".json"):
                finished.append(self._fetch(index))
        return finished

    def _fetch(self, index: int) -> FinishedSegment:
        meta = json.loads(b"".join(self.storage.open_read(AREA, self._key(index, ".json"))))
        state = b"".join(self.storage.open_read(AREA, self._key(index, ".state")))
        piece = self.local_dir / f"{index:06d}.mp4"
        self.storage.download_to(AREA, self._key(index, ".mp4"), piece)
        return FinishedSegment(index, piece, state, meta)

    def save(self, index: int, piece_path: Path, enhancer_state: bytes, meta: Mapping[str, Any]) -> None:
        self.storage.put_file(AREA, self._key(index, ".mp4"), piece_path, "video/mp4")
        self._put_bytes(self._key(index, ".state"), enhancer_state)
        self._put_bytes(self._key(index, ".json"), json.dumps(dict(meta), sort_keys=True).encode())

    def _put_bytes(self, key: str, data: bytes) -> None:
        self.storage.put_stream(AREA, key, io.BytesIO(data), "application/octet-stream")

    def clear(self) -> None:
        """Drop the job's checkpoints once its output is stored."""
        self.storage.delete_prefix(AREA, self.prefix)
