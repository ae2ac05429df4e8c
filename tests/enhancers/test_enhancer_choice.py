"""Which enhancer the settings select, decided without importing it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from video_enhancer.config import Settings
from video_enhancer.enhancers import UnknownEnhancerError, choose_enhancer

ROOT = Path(__file__).resolve().parents[2]


def test_auto_without_weights_falls_back_to_lanczos_and_says_why() -> None:
    choice = choose_enhancer("auto", model_configured=False)
    assert (choice.name, choice.classical) == ("lanczos", True)
    assert "no model weights configured" in choice.reason and "VE_MODEL_PATH" in choice.reason
    assert choice.describe().startswith("lanczos, the classical fallback (auto: no model weights")


def test_auto_with_weights_picks_stream_diffvsr() -> None:
    choice = choose_enhancer("auto", model_configured=True)
    assert (choice.name, choice.classical) == ("stream-diffvsr", False)
    assert choice.describe() == "stream-diffvsr (auto: model weights are configured)"


@pytest.mark.parametrize(("requested", "classical"), [("lanczos", True), ("stream-diffvsr", False)])
def test_an_explicit_enhancer_wins_over_the_weights(requested: str, classical: bool) -> None:
    for configured in (False, True):
        choice = choose_enhancer(requested, model_configured=configured)
        assert (choice.name, choice.classical, choice.reason) == (
            requested,
            classical,
            f"VE_ENHANCER={requested}",
        )


def test_an_unknown_enhancer_is_refused_with_its_code() -> None:
    with pytest.raises(UnknownEnhancerError) as caught:
        choose_enhancer("bicubic", model_configured=False)
    assert caught.value.code == "UNKNOWN_ENHANCER"


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ({}, "lanczos"),
        ({"model_path": Path("/models/Stream-DiffVSR")}, "stream-diffvsr"),
        ({"model_id": "org/stream-diffvsr"}, "stream-diffvsr"),
        ({"model_id": "org/stream-diffvsr", "enhancer": "lanczos"}, "lanczos"),
    ],
)
def test_settings_resolve_the_enhancer_from_the_model_settings(
    values: dict[str, object], expected: str
) -> None:
    settings = Settings(_env_file=None, **values)  # type: ignore[call-arg, arg-type]
    assert settings.resolved_enhancer == settings.enhancer_choice().name == expected


def test_the_module_prints_the_choice_in_one_line_for_make_run(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("VE_")}
    env.update(PYTHONPATH=str(ROOT / "src"), VE_MODEL_ID="org/stream-diffvsr")
    result = subprocess.run(
        [sys.executable, "-m", "video_enhancer.enhancers"],
        env=env,
        cwd=tmp_path,  # no .env here
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert result.stdout == "stream-diffvsr (auto: model weights are configured)\n"
