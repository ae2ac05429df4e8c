"""One set of enhance defaults and one Stream-DiffVSR options object, whoever builds the run."""

from __future__ import annotations

import inspect
from collections.abc import Iterator
from pathlib import Path

import pytest

from video_enhancer.cli import build_parser
from video_enhancer.cli.enhance import model_options, stream_diffvsr_options
from video_enhancer.config import Settings, get_settings
from video_enhancer.enhance_options import ENHANCE_DEFAULTS, StreamDiffVSROptions
from video_enhancer.media.encode import EncoderSettings
from video_enhancer.media.local import enhance_file
from video_enhancer.media.pipeline import PipelineConfig


def test_settings_default_to_the_enhance_defaults() -> None:
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert (settings.encoder, settings.encoder_preset, settings.encoder_crf, settings.segment_seconds) == (
        ENHANCE_DEFAULTS.encoder,
        ENHANCE_DEFAULTS.preset,
        ENHANCE_DEFAULTS.crf,
        ENHANCE_DEFAULTS.segment_seconds,
    )


def test_model_settings_default_to_the_options_defaults() -> None:
    assert Settings(_env_file=None).stream_diffvsr_options() == StreamDiffVSROptions()  # type: ignore[call-arg]


def test_the_media_library_defaults_to_the_enhance_defaults() -> None:
    encoder = EncoderSettings()
    assert (encoder.codec, encoder.preset, encoder.crf) == (
        ENHANCE_DEFAULTS.encoder,
        ENHANCE_DEFAULTS.preset,
        ENHANCE_DEFAULTS.crf,
    )
    config = PipelineConfig()
    assert (config.max_height, config.scale, config.segment_seconds) == (
        ENHANCE_DEFAULTS.max_height,
        ENHANCE_DEFAULTS.scale,
        ENHANCE_DEFAULTS.segment_seconds,
    )
    parameters = inspect.signature(enhance_file).parameters
    for name, attribute in (
        ("max_height", "max_height"),
        ("scale", "scale"),
        ("crf", "crf"),
        ("preset", "preset"),
        ("encoder", "encoder"),
        ("segment_seconds", "segment_seconds"),
    ):
        assert parameters[name].default == getattr(ENHANCE_DEFAULTS, attribute), name


def test_the_enhance_command_defaults_to_the_enhance_defaults() -> None:
    args = build_parser().parse_args(["enhance", "in.mp4", "-o", "out.mp4"])
    assert (args.max_height, args.scale, args.crf, args.preset, args.encoder, args.segment_seconds) == (
        ENHANCE_DEFAULTS.max_height,
        ENHANCE_DEFAULTS.scale,
        ENHANCE_DEFAULTS.crf,
        ENHANCE_DEFAULTS.preset,
        ENHANCE_DEFAULTS.encoder,
        ENHANCE_DEFAULTS.segment_seconds,
    )


def test_options_come_from_the_model_settings() -> None:
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        model_id="org/weights",
        flow_weights=Path("/w/raft.pth"),
        model_device="cuda:1",
        model_dtype="bfloat16",
    )
    assert settings.stream_diffvsr_options() == StreamDiffVSROptions(
        model_path=None,
        model_id="org/weights",
        flow_weights=Path("/w/raft.pth"),
        device="cuda:1",
        dtype="bfloat16",
    )


def test_weights_are_a_folder_or_else_a_hub_id(tmp_path: Path) -> None:
    both = StreamDiffVSROptions(model_path=Path("/old"), model_id="old/id")
    assert both.with_weights(str(tmp_path)) == StreamDiffVSROptions(model_path=tmp_path, model_id=None)
    assert both.with_weights("org/new") == StreamDiffVSROptions(model_path=None, model_id="org/new")
    assert not StreamDiffVSROptions().has_weights and both.has_weights


def test_the_constructor_arguments_are_the_enhancers_parameters() -> None:
    from video_enhancer.enhancers.stream_diffvsr import StreamDiffVSREnhancer

    accepted = set(inspect.signature(StreamDiffVSREnhancer).parameters)
    assert set(StreamDiffVSROptions().constructor_kwargs()) <= accepted


@pytest.fixture
def model_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("VE_MODEL_ID", "org/from-settings")
    monkeypatch.setenv("VE_FLOW_WEIGHTS", "/settings/raft.pth")
    monkeypatch.setenv("VE_MODEL_DTYPE", "float32")
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def test_the_command_flags_override_the_settings(model_env: None, tmp_path: Path) -> None:
    parse = build_parser().parse_args
    args = parse(
        [
            "enhance",
            "a",
            "-o",
            "b",
            "--model",
            "stream-diffvsr",
            "--weights",
            str(tmp_path),
            "--device",
            "cpu",
        ]
    )
    assert stream_diffvsr_options(args) == StreamDiffVSROptions(
        model_path=tmp_path,
        model_id=None,
        flow_weights=Path("/settings/raft.pth"),
        device="cpu",
        dtype="float32",
    )
    only_settings = parse(["enhance", "a", "-o", "b", "--model", "stream-diffvsr"])
    assert model_options(only_settings)["model_id"] == "org/from-settings"
    assert model_options(parse(["enhance", "a", "-o", "b"])) == {}  # lanczos takes none
