"""The quirks corpus (corpus.py) through the real pipeline with the Lanczos enhancer.

Every clip either comes out with its display aspect ratio in square pixels, its duration, the
frame count at the right rate (fields for interlaced video), its audio fitted to the video and
a full decode, or is refused before any enhancement with its stable code.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from media.clips import run_ffmpeg
from media.corpus import BY_NAME, CORPUS, CorpusClip, problems, read_output
from media.fake_enhancers import CountingEnhancer
from video_enhancer.media.encode import EncoderSettings
from video_enhancer.media.errors import MediaError, PipelineStopped
from video_enhancer.media.local import enhance_file
from video_enhancer.media.pipeline import PipelineConfig, run_pipeline
from video_enhancer.media.probe import ProbeOptions, probe
from video_enhancer.media.segments import LocalCheckpoint
from video_enhancer.media.verify import verify_output

FAST = {"preset": "ultrafast", "max_height": 144, "segment_seconds": 0.5}


class Corpus:
    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._made: dict[str, Path] = {}

    def path(self, name: str) -> Path:
        if name not in self._made:
            self._made[name] = BY_NAME[name].make(self.directory)
        return self._made[name]


@pytest.fixture(scope="session")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Corpus:
    return Corpus(tmp_path_factory.mktemp("corpus"))


@pytest.mark.parametrize("clip", CORPUS, ids=[clip.name for clip in CORPUS])
def test_corpus_clip_has_its_expected_outcome(clip: CorpusClip, corpus: Corpus, tmp_path: Path) -> None:
    source = corpus.path(clip.name)
    output = tmp_path / "out.mp4"
    if clip.expect.error is not None:
        with pytest.raises(MediaError) as caught:
            enhance_file(source, output, **FAST)  # type: ignore[arg-type]
        assert caught.value.code == clip.expect.error
        assert not output.exists()
        return
    result = enhance_file(source, output, **FAST)  # type: ignore[arg-type]
    assert problems(read_output(output), clip.expect) == []
    # The size plan is in display sizes: its source has the display aspect ratio too.
    width, height = result.pipeline.sizes.source
    assert clip.expect.aspect is not None and abs(width - height * clip.expect.aspect) <= 1


def test_interlaced_sources_are_found_and_progressive_ones_are_not(corpus: Corpus) -> None:
    for name in ("dv-ntsc-avi-pcm", "dv-pal-raw", "mpeg2-ps-tff-mp2", "h264-1080i"):
        video = probe(corpus.path(name)).video
        assert video.interlace is not None and video.deinterlace == "field", name
    for name in ("hdv-anamorphic", "avi-mpeg4", "no-audio"):
        assert probe(corpus.path(name)).video.interlace is None, name


def test_field_order_comes_from_the_picture_when_the_stream_says_otherwise(corpus: Corpus) -> None:
    # The DV stream is flagged bottom field first, but its picture was woven top field first.
    assert probe(corpus.path("dv-ntsc-avi-pcm")).video.interlace == "tff"


def test_frame_rate_setting_gives_one_frame_per_interlaced_frame(corpus: Corpus, tmp_path: Path) -> None:
    source = corpus.path("mpeg2-ps-tff-mp2")
    info = probe(source, ProbeOptions(deinterlace="frame"))
    assert info.video.frame_count == 18 and info.video.deinterlace == "frame"
    fields = probe(source)
    assert fields.video.frame_count == 36
    assert fields.duration_s == pytest.approx(info.duration_s, abs=0.02)  # minutes charged alike
    output = tmp_path / "out.mp4"
    run_pipeline(info, output, CountingEnhancer(), PipelineConfig(max_height=144, segment_seconds=0.5))
    facts = read_output(output)
    assert facts.frames == 18 and facts.duration_s == pytest.approx(0.6, abs=0.04)


def _combing(path: Path) -> float:
    """How much lines differ from their neighbours (the other field) over lines two apart."""
    with av.open(str(path)) as container:
        luma = [frame.to_ndarray(format="gray").astype(np.float32) for frame in container.decode(video=0)]
    inter = np.mean([np.abs(2 * y[2:-2] - y[1:-3] - y[3:-1]).mean() for y in luma])
    intra = np.mean([np.abs(2 * y[2:-2] - y[:-4] - y[4:]).mean() for y in luma])
    return float(inter / intra)


def test_deinterlaced_output_has_no_combing(corpus: Corpus, tmp_path: Path) -> None:
    source = corpus.path("mpeg2-ps-tff-mp2")
    output = tmp_path / "out.mp4"
    enhance_file(source, output, preset="ultrafast", max_height=480, scale=1.0)
    assert _combing(source) > 1.2
    assert _combing(output) < 1.0


def test_sample_aspect_ratio_is_applied(corpus: Corpus) -> None:
    video = probe(corpus.path("h263-3gp")).video
    assert video.sample_aspect_ratio == Fraction(12, 11)
    assert (video.coded_width, video.width, video.height) == (176, 192, 144)


def test_the_default_audio_track_is_kept(corpus: Corpus, tmp_path: Path) -> None:
    info = probe(corpus.path("two-audio-tracks"))
    assert info.audio_tracks_in_source == 2 and [(a.codec, a.channels) for a in info.audio] == [("ac3", 1)]
    output = tmp_path / "out.mp4"
    enhance_file(corpus.path("two-audio-tracks"), output, **FAST)  # type: ignore[arg-type]
    with av.open(str(output)) as container:
        tracks = [(s.codec_context.name, s.codec_context.channels, s.rate) for s in container.streams.audio]
    assert tracks == [("aac", 1, 44100)]


def test_short_audio_is_padded_with_silence(corpus: Corpus, tmp_path: Path) -> None:
    output = tmp_path / "out.mp4"
    enhance_file(corpus.path("audio-shorter"), output, **FAST)  # type: ignore[arg-type]
    with av.open(str(output)) as container:
        samples = np.concatenate([f.to_ndarray()[0] for f in container.decode(audio=0)])
        rate = container.streams.audio[0].rate
    assert len(samples) / rate == pytest.approx(1.0, abs=0.05)
    assert np.abs(samples[int(0.3 * rate) : int(0.45 * rate)]).max() > 0.1  # the sine
    assert np.abs(samples[int(0.6 * rate) :]).max() < 0.01  # silence after it


@pytest.mark.parametrize("name", ["h264-1080i", "raw-h264-stream"])
def test_interlaced_and_decoder_timed_clips_resume_after_a_stop(
    name: str, corpus: Corpus, tmp_path: Path
) -> None:
    # Resuming seeks (field timelines map back to the source's frames), or decodes from the start
    # when timestamps were given by the probe; either way the frames are the expected ones.
    info = probe(corpus.path(name))
    config = PipelineConfig(max_height=72, segment_seconds=0.2, encoder=EncoderSettings(preset="ultrafast"))
    checkpoint = LocalCheckpoint(tmp_path / "checkpoint")
    answers = iter([False, True])  # asked at the start, then after segment 0
    output = tmp_path / "out.mp4"
    with pytest.raises(PipelineStopped):
        run_pipeline(
            info, output, CountingEnhancer(), config, checkpoint=checkpoint, should_stop=lambda: next(answers)
        )
    result = run_pipeline(info, output, CountingEnhancer(), config, checkpoint=checkpoint)
    assert result.resumed_segments == 1
    verify_output(info, output, result.sizes.output)
    assert read_output(output).frames == info.video.frame_count


def _x264(tmp_path: Path, name: str, source: str, interlaced_coding: bool, seconds: float = 0.4) -> Path:
    path = tmp_path / f"{name}.mp4"
    coding = ["-flags", "+ilme+ildct", "-x264-params", "tff=1", "-crf", "10"] if interlaced_coding else []
    run_ffmpeg(
        ["-t", str(seconds), "-f", "lavfi", "-i", source,
         "-c:v", "libx264", "-preset", "ultrafast", *coding, str(path)]
    )  # fmt: skip
    return path


def test_interlaced_pictures_in_a_stream_flagged_progressive_are_deinterlaced(tmp_path: Path) -> None:
    woven = "testsrc2=s=720x480:r=60,tinterlace=mode=interleave_top,setfield=prog"
    video = probe(_x264(tmp_path, "mislabelled", woven, interlaced_coding=False)).video
    assert (video.interlace, video.frame_count) == ("tff", 24)


def test_progressive_pictures_in_a_stream_flagged_interlaced_are_left_alone(tmp_path: Path) -> None:
    # Flagged interlaced (as progressive-segmented-frame cameras write), but idet sees no combing.
    path = _x264(tmp_path, "psf", "testsrc=s=720x480:r=30", interlaced_coding=True, seconds=1)
    with av.open(str(path)) as container:
        assert all(frame.interlaced_frame for frame in container.decode(video=0))
    video = probe(path).video
    assert (video.interlace, video.frame_count) == (None, 30)
