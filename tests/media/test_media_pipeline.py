from __future__ import annotations

import itertools
import threading
from pathlib import Path

import av
import numpy as np
import pytest

from media.clips import (
    CFR,
    HDR_HLG,
    HDR_PQ,
    LONG,
    NO_AUDIO,
    ODD,
    PCM_MOV,
    ROTATED,
    SURROUND,
    VFR,
    VFR_B_FRAMES,
    ClipLibrary,
    ClipSpec,
    empty_file,
    text_file,
    truncated_copy,
)
from media.fake_enhancers import CountingEnhancer
from media.readback import (
    assert_resumed_matches,
    audio_packets,
    decode_timestamps,
    decoded_frames,
    ffmpeg_upright_first_frame,
    presentation_times,
    red_quadrant,
)
from video_enhancer.media.encode import EncoderSettings
from video_enhancer.media.errors import EncoderUnavailable, EnhancementFailed, InvalidVideo, PipelineStopped
from video_enhancer.media.local import enhance_file
from video_enhancer.media.pipeline import PipelineConfig, Progress, run_pipeline
from video_enhancer.media.probe import probe
from video_enhancer.media.segments import LocalCheckpoint
from video_enhancer.media.verify import verify_output

FAST = {"preset": "ultrafast"}


def test_constant_rate_clip_keeps_audio_and_timing(clips: ClipLibrary, tmp_path: Path) -> None:
    clip = clips.get(CFR)
    result = enhance_file(clip.path, tmp_path / "out.mp4", max_height=128, segment_seconds=0.5, **FAST)
    out = result.verified.info
    assert (out.video.width, out.video.height) == (192, 128)
    assert out.video.frame_count == 20 and out.duration_s == pytest.approx(2.0)
    assert [(a.codec, a.channels) for a in out.audio] == [("aac", 2)]
    assert (out.video.color_primaries, out.video.color_transfer, out.video.color_matrix) == ("bt709",) * 3
    assert out.video.pix_fmt == "yuv420p"
    assert result.pipeline.segments == 4


def test_output_is_faststart(clips: ClipLibrary, tmp_path: Path) -> None:
    output = tmp_path / "out.mp4"
    enhance_file(clips.get(NO_AUDIO).path, output, max_height=128, **FAST)
    head = output.read_bytes()[:4096]
    assert head.find(b"moov") != -1 and head.find(b"moov") < max(head.find(b"mdat"), 4096)


@pytest.mark.parametrize(
    ("spec", "preset"),
    [(VFR, FAST["preset"]), (VFR_B_FRAMES, "slow")],
    ids=["no-b-frames", "b-frames-in-and-out"],
)
def test_variable_frame_rate_timestamps_are_kept(
    clips: ClipLibrary, tmp_path: Path, spec: ClipSpec, preset: str
) -> None:
    # With B-frames, MP4 packet durations are decode-time deltas, not display durations: the
    # join must still give every frame its own, and the probe must not add them up wrongly.
    clip = clips.get(spec)
    output = tmp_path / "out.mp4"
    options = {**FAST, "preset": preset}
    result = enhance_file(clip.path, output, max_height=128, segment_seconds=0.5, **options)
    assert result.verified.info.video.variable_frame_rate
    assert presentation_times(output) == presentation_times(clip.path)
    assert result.verified.info.video.end_pts * result.verified.info.video.time_base == (
        result.source.video.end_pts * result.source.video.time_base
    )
    # What FFmpeg-based players read from the file itself agrees.
    with av.open(str(output)) as container:
        assert container.duration is not None
        assert container.duration / 1_000_000 == pytest.approx(result.source.duration_s, abs=1e-3)


def test_rotated_video_comes_out_upright(clips: ClipLibrary, tmp_path: Path) -> None:
    clip = clips.get(ROTATED)
    output = tmp_path / "out.mp4"
    result = enhance_file(clip.path, output, max_height=192, **FAST)
    assert result.verified.info.video.rotation == 0
    # Upright the clip is portrait 64x96; the plan maximum bounds the short side: 192x288.
    assert (result.verified.info.video.width, result.verified.info.video.height) == (192, 288)
    reference = ffmpeg_upright_first_frame(clip.path, *clip.upright_size)
    assert red_quadrant(decoded_frames(output)[0]) == red_quadrant(reference)
    # The coded picture has the marker top-left; upright, it must have moved.
    assert red_quadrant(reference) != (0, 0)


def test_no_audio_stays_without_audio(clips: ClipLibrary, tmp_path: Path) -> None:
    result = enhance_file(clips.get(NO_AUDIO).path, tmp_path / "out.mp4", max_height=128, **FAST)
    assert result.verified.info.audio == ()


def test_surround_audio_is_copied_and_creation_time_kept(clips: ClipLibrary, tmp_path: Path) -> None:
    clip = clips.get(SURROUND)
    output = tmp_path / "out.mp4"
    result = enhance_file(clip.path, output, max_height=128, **FAST)
    assert [(a.codec, a.channels) for a in result.verified.info.audio] == [("aac", 6)]
    assert audio_packets(output) == audio_packets(clip.path)  # stream copy: the same packets
    assert result.verified.info.creation_time is not None
    assert result.verified.info.creation_time.startswith("2021-03-04T05:06:07")


def test_audio_the_mp4_cannot_hold_is_reencoded_to_aac(clips: ClipLibrary, tmp_path: Path) -> None:
    result = enhance_file(clips.get(PCM_MOV).path, tmp_path / "out.mp4", max_height=128, **FAST)
    assert [(a.codec, a.channels) for a in result.verified.info.audio] == [("aac", 2)]


def test_odd_dimensions_give_even_output(clips: ClipLibrary, tmp_path: Path) -> None:
    result = enhance_file(clips.get(ODD).path, tmp_path / "out.mp4", max_height=126, **FAST)
    assert (result.verified.info.video.width, result.verified.info.video.height) == (190, 126)


def _mean_level(path: Path) -> float:
    return float(np.mean([frame.mean() for frame in decoded_frames(path)]))


@pytest.mark.parametrize(("spec", "low", "high"), [(HDR_PQ, 165, 215), (HDR_HLG, 215, 250)])
def test_hdr_is_tone_mapped_to_sdr(clips: ClipLibrary, tmp_path: Path, spec, low: int, high: int) -> None:
    clip = clips.get(spec)
    output = tmp_path / "out.mp4"
    result = enhance_file(clip.path, output, max_height=72, **FAST)
    out = result.verified.info.video
    assert (out.bit_depth, out.hdr, out.color_transfer, out.color_primaries) == (8, None, "bt709", "bt709")
    # Shown as SDR without tone mapping, the grey would stay near its code value (about 130 / 180).
    level = _mean_level(output)
    assert low < level < high
    assert level - clip.spec.grey > 30  # type: ignore[operator]


def test_segments_join_without_gaps_or_duplicates(clips: ClipLibrary, tmp_path: Path) -> None:
    clip = clips.get(LONG)
    output = tmp_path / "out.mp4"
    result = enhance_file(clip.path, output, max_height=72, segment_seconds=1.0, preset="medium")
    assert result.pipeline.segments == 6
    assert presentation_times(output) == presentation_times(clip.path)
    dts = decode_timestamps(output)
    assert all(b > a for a, b in itertools.pairwise(dts))  # B-frames across joins stay decodable
    audio = audio_packets(output)
    assert all(pts + duration == following for (pts, duration), (following, _) in itertools.pairwise(audio))


def test_stopped_run_resumes_to_the_same_frames(clips: ClipLibrary, tmp_path: Path) -> None:
    clip = clips.get(LONG)
    info = probe(clip.path)
    config = PipelineConfig(max_height=72, segment_seconds=1.0, encoder=EncoderSettings(preset="ultrafast"))
    run_pipeline(info, tmp_path / "straight.mp4", CountingEnhancer(), config)

    checkpoint = LocalCheckpoint(tmp_path / "checkpoint")
    answers = iter([False, False, True])  # asked at the start, then after segments 0 and 1
    with pytest.raises(PipelineStopped):
        run_pipeline(
            info,
            tmp_path / "resumed.mp4",
            CountingEnhancer(),
            config,
            checkpoint=checkpoint,
            should_stop=lambda: next(answers),
        )
    assert sorted(s.index for s in checkpoint.load()) == [0, 1]
    assert not (tmp_path / "resumed.mp4").exists()

    enhancer = CountingEnhancer()
    result = run_pipeline(info, tmp_path / "resumed.mp4", enhancer, config, checkpoint=checkpoint)
    assert result.resumed_segments == 2
    assert enhancer.opened_with == [b"16"]  # the state after segments 0 and 1 (8 frames each)
    straight, resumed = decoded_frames(tmp_path / "straight.mp4"), decoded_frames(tmp_path / "resumed.mp4")
    assert len(resumed) == len(straight) == 48
    assert_resumed_matches(resumed, straight, reused=16)
    assert presentation_times(tmp_path / "resumed.mp4") == presentation_times(clip.path)
    verify_output(info, tmp_path / "resumed.mp4", result.sizes.output)


def test_checkpoint_from_another_plan_is_not_reused(clips: ClipLibrary, tmp_path: Path) -> None:
    info = probe(clips.get(LONG).path)
    checkpoint = LocalCheckpoint(tmp_path / "checkpoint")
    config = PipelineConfig(max_height=72, segment_seconds=1.0, encoder=EncoderSettings(preset="ultrafast"))
    run_pipeline(info, tmp_path / "a.mp4", CountingEnhancer(), config, checkpoint=checkpoint)
    other = PipelineConfig(max_height=144, segment_seconds=1.0, encoder=EncoderSettings(preset="ultrafast"))
    result = run_pipeline(info, tmp_path / "b.mp4", CountingEnhancer(), other, checkpoint=checkpoint)
    assert result.resumed_segments == 0
    assert probe(tmp_path / "b.mp4").video.height == 144


def test_progress_is_reported_at_most_once_a_second(clips: ClipLibrary, tmp_path: Path) -> None:
    info = probe(clips.get(CFR).path)
    events: list[tuple[float, Progress]] = []
    clock = __import__("time").monotonic
    config = PipelineConfig(max_height=64, segment_seconds=0.5, encoder=EncoderSettings(preset="ultrafast"))
    run_pipeline(
        info,
        tmp_path / "out.mp4",
        CountingEnhancer(delay_s=0.12),
        config,
        progress=lambda p: events.append((clock(), p)),
    )
    enhancing = [(t, p) for t, p in events if p.stage == "enhancing"]
    assert len(enhancing) >= 2
    assert all(b[0] - a[0] >= 0.99 for a, b in itertools.pairwise(enhancing))
    assert all(0 < p.fps and p.frames_total == 20 and p.eta_s is not None for _, p in enhancing)
    assert events[-1][1].stage == "encoding" and events[-1][1].percent == 100.0


def test_enhancer_failure_becomes_a_media_error(clips: ClipLibrary, tmp_path: Path) -> None:
    info = probe(clips.get(CFR).path)
    before = threading.active_count()
    with pytest.raises(EnhancementFailed) as caught:
        run_pipeline(info, tmp_path / "out.mp4", CountingEnhancer(fail_at=5), PipelineConfig(max_height=64))
    assert caught.value.code == "ENHANCEMENT_FAILED" and "simulated" in caught.value.detail
    assert threading.active_count() == before  # the decoder and enhancer threads ended
    assert not (tmp_path / "out.mp4").exists()


def test_an_interrupt_as_the_scratch_folder_is_made_leaves_nothing(
    clips: ClipLibrary, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The CLI aborts by KeyboardInterrupt, which can land the instant the folder exists."""
    make_folder = Path.mkdir

    def interrupted_mkdir(self: Path, *args: object, **kwargs: object) -> None:
        make_folder(self, *args, **kwargs)  # type: ignore[arg-type]
        if self.name.startswith("enhance-"):
            raise KeyboardInterrupt

    info = probe(clips.get(CFR).path)
    out = tmp_path / "out"
    out.mkdir()
    monkeypatch.setattr(Path, "mkdir", interrupted_mkdir)
    with pytest.raises(KeyboardInterrupt):
        run_pipeline(info, out / "video.mp4", CountingEnhancer(), PipelineConfig(max_height=64))
    assert list(out.iterdir()) == []


def test_enhancer_output_of_the_wrong_size_is_refused(clips: ClipLibrary, tmp_path: Path) -> None:
    info = probe(clips.get(NO_AUDIO).path)
    with pytest.raises(EnhancementFailed):
        run_pipeline(
            info, tmp_path / "out.mp4", CountingEnhancer(wrong_shape=True), PipelineConfig(max_height=128)
        )


def test_model_style_enhancer_gets_multiple_of_four_input(clips: ClipLibrary, tmp_path: Path) -> None:
    info = probe(clips.get(NO_AUDIO).path)
    config = PipelineConfig(max_height=144, encoder=EncoderSettings(preset="ultrafast"))
    result = run_pipeline(info, tmp_path / "out.mp4", CountingEnhancer(native_scale=4), config)
    assert result.sizes.enhancer_input == (56, 36) and result.sizes.enhancer_output == (224, 144)
    verify_output(info, tmp_path / "out.mp4", (216, 144))


def test_unknown_encoder_is_reported(clips: ClipLibrary, tmp_path: Path) -> None:
    info = probe(clips.get(NO_AUDIO).path)
    config = PipelineConfig(encoder=EncoderSettings(codec="no_such_encoder"))
    with pytest.raises(EncoderUnavailable) as caught:
        run_pipeline(info, tmp_path / "out.mp4", CountingEnhancer(), config)
    assert caught.value.code == "ENCODER_UNAVAILABLE"


@pytest.mark.parametrize("make_bad", ["empty", "text", "truncated"])
def test_bad_inputs_fail_with_invalid_video(clips: ClipLibrary, tmp_path: Path, make_bad: str) -> None:
    bad = {
        "empty": lambda: empty_file(tmp_path),
        "text": lambda: text_file(tmp_path),
        "truncated": lambda: truncated_copy(clips.get(CFR), tmp_path),
    }[make_bad]()
    with pytest.raises(InvalidVideo):
        enhance_file(bad, tmp_path / "out.mp4", **FAST)
    assert not (tmp_path / "out.mp4").exists()


def test_output_decodes_with_an_independent_decoder(clips: ClipLibrary, tmp_path: Path) -> None:
    output = tmp_path / "out.mp4"
    enhance_file(clips.get(LONG).path, output, max_height=72, segment_seconds=1.0, **FAST)
    with av.open(str(output)) as container:
        assert sum(1 for _ in container.decode(video=0)) == 48
