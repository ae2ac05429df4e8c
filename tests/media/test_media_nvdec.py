"""NVDEC decode (`media.nvdec`): the same frames as the CPU decoder, and a machine without a usable
CUDA device (this one) finds that out on the first open only, then decodes on the CPU."""

from __future__ import annotations

import logging
from dataclasses import replace
from pathlib import Path
from typing import Any

import av
import numpy as np
import pytest

from media.clips import CFR, HDR_PQ, ROTATED, VFR_B_FRAMES, ClipLibrary, ClipSpec, text_file
from video_enhancer.media import nvdec
from video_enhancer.media.decode import DecodedFrame, iter_frames
from video_enhancer.media.errors import DecodeFailed
from video_enhancer.media.nvdec import HardwareDecode
from video_enhancer.media.probe import MediaInfo, probe


@pytest.fixture
def hardware_decode(monkeypatch: pytest.MonkeyPatch) -> HardwareDecode:
    """A fresh process record, so each test sees the first open of a process."""
    fresh = HardwareDecode()
    monkeypatch.setattr(nvdec, "HARDWARE_DECODE", fresh)
    return fresh


@pytest.fixture
def hardware_opens(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """The paths `av.open` was asked to open for NVDEC (the real `av.open` still opens them)."""
    opened: list[Path] = []
    real_open = av.open

    def recording_open(path: str, *args: Any, **kwargs: Any) -> Any:
        if kwargs.get("hwaccel") is not None:
            opened.append(Path(path))
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr(av, "open", recording_open)
    return opened


def _frames(info: MediaInfo, hardware: bool, start_pts: int | None = None) -> list[DecodedFrame]:
    size = (info.video.width // 2 * 2, info.video.height // 2 * 2)
    return list(iter_frames(info, size, start_pts, hardware=hardware))


@pytest.mark.parametrize("spec", [CFR, VFR_B_FRAMES, ROTATED, HDR_PQ], ids=lambda spec: spec.name)
def test_hardware_decode_gives_the_software_frames(
    spec: ClipSpec, clips: ClipLibrary, hardware_decode: HardwareDecode
) -> None:
    info = probe(clips.get(spec).path)
    software, hardware = _frames(info, hardware=False), _frames(info, hardware=True)

    assert len(hardware) == len(software) == info.video.frame_count
    assert [f.pts for f in hardware] == [f.pts for f in software] == list(info.video.frame_pts)
    for ours, theirs in zip(hardware, software, strict=True):
        assert ours.time_base == theirs.time_base
        np.testing.assert_array_equal(ours.image, theirs.image)


def test_hardware_decode_from_a_mid_video_start_gives_the_software_frames(
    clips: ClipLibrary, hardware_decode: HardwareDecode
) -> None:
    info = probe(clips.get(VFR_B_FRAMES).path)
    start = info.video.frame_pts[len(info.video.frame_pts) // 2]
    software, hardware = _frames(info, False, start), _frames(info, True, start)

    assert hardware and [f.pts for f in hardware] == [f.pts for f in software]
    assert hardware[0].pts == start
    for ours, theirs in zip(hardware, software, strict=True):
        np.testing.assert_array_equal(ours.image, theirs.image)


def test_a_device_that_does_not_open_is_tried_once_per_process(
    clips: ClipLibrary,
    hardware_decode: HardwareDecode,
    hardware_opens: list[Path],
    caplog: pytest.LogCaptureFixture,
) -> None:
    info = probe(clips.get(CFR).path)
    with caplog.at_level(logging.INFO, logger=nvdec.__name__):
        first, second = _frames(info, hardware=True), _frames(info, hardware=True)

    assert len(first) == len(second) == info.video.frame_count
    notices = [r for r in caplog.records if "NVDEC is not usable" in r.getMessage()]
    if hardware_decode.usable:  # a machine with a CUDA device: every open decodes there
        assert hardware_opens == [info.path, info.path] and notices == []
    else:  # this machine: the first open fails at device creation, the second does not try
        assert hardware_opens == [info.path]
        assert len(notices) == 1 and notices[0].levelno == logging.INFO


def test_software_decode_never_tries_the_device(
    clips: ClipLibrary, hardware_decode: HardwareDecode, hardware_opens: list[Path]
) -> None:
    assert _frames(probe(clips.get(CFR).path), hardware=False)
    assert hardware_opens == [] and hardware_decode.usable


def test_a_bad_file_is_a_decode_error_and_does_not_rule_out_the_device(
    clips: ClipLibrary, hardware_decode: HardwareDecode, hardware_opens: list[Path], tmp_path: Path
) -> None:
    info = probe(clips.get(CFR).path)
    broken = text_file(tmp_path)
    with pytest.raises(DecodeFailed):
        list(iter_frames(replace(info, path=broken), (96, 64), hardware=True))

    assert hardware_opens == [broken] and hardware_decode.usable
