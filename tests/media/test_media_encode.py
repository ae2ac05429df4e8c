"""The segmented encoder: one encoder, one self-contained piece per segment."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from video_enhancer.media.encode import EncoderSettings, OutputConverter, PieceSpan, SegmentedEncoder

SIZE = (64, 48)
TIME_BASE = Fraction(1, 90_000)
TICKS = 3_750  # 24 frames per second
# medium: B-frames and a 40-frame look-ahead, so pieces complete well after their last frame.
SETTINGS = EncoderSettings(preset="medium", crf=18)


def _picture(number: int) -> np.ndarray:
    """A frame that moves: a bright bar at a different column in each frame."""
    image = np.full((SIZE[1], SIZE[0], 3), 40, np.uint8)
    image[:, (number * 3) % SIZE[0]] = 230
    return image


def _encode(tmp_path: Path, starts: list[int], frames: int, first: int = 0) -> list[PieceSpan]:
    """Encode frames ``first`` .. ``frames - 1``; segments start at the frame numbers in ``starts``."""
    encoder = SegmentedEncoder(SIZE, TIME_BASE, Fraction(24), SETTINGS)
    convert = OutputConverter(SIZE)
    ends = [*starts[1:], frames]
    spans = {
        start: PieceSpan(i, start * TICKS, end * TICKS, tmp_path / f"piece-{i}.mp4")
        for i, (start, end) in enumerate(zip(starts, ends, strict=True))
    }
    completed: list[tuple[int, PieceSpan]] = []
    for number in range(first, frames):
        if number in spans:
            encoder.begin_piece(spans[number])
        completed += [(number, piece) for piece in encoder.write(convert(_picture(number)), number * TICKS)]
    completed += [(frames, piece) for piece in encoder.finish()]
    # A piece completes only after the first frame of the next one has gone in.
    for written, piece in completed:
        assert written * TICKS >= piece.end_pts
    return [piece for _, piece in completed]


def _packets(path: Path) -> list[av.Packet]:
    with av.open(str(path)) as container:
        return [p for p in container.demux(container.streams.video[0]) if p.size]


def _extradata(path: Path) -> bytes | None:
    with av.open(str(path)) as container:
        return container.streams.video[0].codec_context.extradata


def test_each_piece_starts_with_a_key_frame_and_decodes_alone(tmp_path: Path) -> None:
    pieces = _encode(tmp_path, [0, 10, 20], frames=27)
    assert [p.index for p in pieces] == [0, 1, 2]
    for piece, count in zip(pieces, [10, 10, 7], strict=True):
        packets = _packets(piece.path)
        assert packets[0].is_keyframe and len(packets) == count
        with av.open(str(piece.path)) as container:
            stream = container.streams.video[0]
            times = [frame.pts * stream.time_base for frame in container.decode(stream)]
        # Each piece's timeline starts at its segment's start, one frame every 1/24 s.
        assert times == [Fraction(k, 24) for k in range(count)]


def test_pieces_of_a_resumed_encoder_share_parameter_sets(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    straight = _encode(tmp_path / "a", [0, 10, 20], frames=27)
    resumed = _encode(tmp_path / "b", [0, 10, 20], frames=27, first=10)
    assert [p.index for p in resumed] == [1, 2]
    # Joinable without re-encoding: the same SPS/PPS in every piece, from either encoder.
    assert {_extradata(p.path) for p in straight + resumed} == {_extradata(straight[0].path)}


def test_frame_pictures_survive_the_cut(tmp_path: Path) -> None:
    pieces = _encode(tmp_path, [0, 5], frames=12)
    decoded: list[np.ndarray] = []
    for piece in pieces:
        with av.open(str(piece.path)) as container:
            decoded += [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
    assert len(decoded) == 12
    for number, image in enumerate(decoded):
        bright_column = int(np.argmax(image[:, :, 1].mean(axis=0)))
        assert bright_column == (number * 3) % SIZE[0]
