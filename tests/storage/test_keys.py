"""Object keys: one layout, parsed back by the same module that makes it."""

from __future__ import annotations

import uuid

from video_enhancer.storage import keys
from video_enhancer.storage.local import validate_key

USER, VIDEO, JOB = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()


def test_every_object_of_a_video_lies_under_its_prefix() -> None:
    prefix = keys.video_prefix(USER, VIDEO)
    made = [
        keys.raw_key(USER, VIDEO, ".mp4"),
        keys.output_key(USER, VIDEO, JOB),
        keys.preview_key(USER, VIDEO, JOB),
        keys.thumbnail_key(USER, VIDEO, JOB),
    ]
    assert all(key.startswith(prefix) for key in made)
    assert len(set(made)) == len(made)
    assert all(validate_key(key) == key for key in made)  # acceptable to the strictest backend


def test_the_segments_of_a_job_lie_under_its_job_prefix() -> None:
    piece = keys.segment_key(JOB, 3, ".mp4")
    assert piece.startswith(keys.segments_prefix(JOB))
    assert keys.segments_prefix(JOB).startswith(keys.job_prefix(JOB))
    assert not keys.segments_prefix(uuid.uuid4()).startswith(keys.job_prefix(JOB))
    assert validate_key(piece) == piece


def test_a_segment_key_gives_its_index_back() -> None:
    assert keys.segment_index(keys.segment_key(JOB, 12, ".json")) == 12
    assert keys.segment_index(f"{keys.segments_prefix(JOB)}notes.json") is None
    assert keys.segment_index(keys.output_key(USER, VIDEO, JOB)) is None


def test_a_raw_key_names_its_video() -> None:
    assert keys.video_id_of_raw_key(keys.raw_key(USER, VIDEO, ".mov")) == VIDEO
    assert keys.video_id_of_raw_key(keys.raw_key(USER, VIDEO, "")) == VIDEO
    assert keys.video_id_of_raw_key(keys.output_key(USER, VIDEO, JOB)) is None
    assert keys.video_id_of_raw_key(f"../{keys.raw_key(USER, VIDEO, '.mp4')}") is None
