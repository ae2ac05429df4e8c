from __future__ import annotations

import re
from pathlib import Path

import pytest
from pydantic import ValidationError

from video_enhancer.config import Settings

README = Path(__file__).resolve().parents[2] / "README.md"


def test_production_refuses_the_development_jwt_secret() -> None:
    with pytest.raises(ValidationError, match="VE_JWT_SECRET"):
        Settings(env="production", url_signing_secret="x" * 40)


def test_production_refuses_the_development_url_signing_secret() -> None:
    with pytest.raises(ValidationError, match="VE_URL_SIGNING_SECRET"):
        Settings(env="production", jwt_secret="y" * 40)


def test_production_refuses_a_short_jwt_secret() -> None:
    with pytest.raises(ValidationError, match="at least 32"):
        Settings(env="production", jwt_secret="short", url_signing_secret="x" * 40)


def test_production_accepts_strong_secrets() -> None:
    settings = Settings(env="production", jwt_secret="y" * 40, url_signing_secret="x" * 40)
    assert settings.jwt_secret.get_secret_value() == "y" * 40


def test_settings_read_the_ve_prefix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VE_ENCODER_CRF", "23")
    monkeypatch.setenv("VE_STORAGE", "gcs")
    settings = Settings()
    assert (settings.encoder_crf, settings.storage) == (23, "gcs")


def test_enhancer_auto_prefers_the_model_when_weights_are_configured(tmp_path: Path) -> None:
    assert Settings(enhancer="auto").resolved_enhancer == "lanczos"
    assert Settings(enhancer="auto", model_path=tmp_path).resolved_enhancer == "stream-diffvsr"
    assert Settings(enhancer="lanczos", model_path=tmp_path).resolved_enhancer == "lanczos"


def test_readme_documents_every_setting() -> None:
    documented = set(re.findall(r"`(VE_[A-Z0-9_]+)`", README.read_text()))
    expected = {f"VE_{name.upper()}" for name in Settings.model_fields}
    assert expected <= documented, f"missing from README: {sorted(expected - documented)}"


def test_admin_emails_are_read_comma_separated_or_as_json(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VE_ADMIN_EMAILS", " Ops@Example.com, oncall@example.com ,")
    assert Settings().admin_emails == ["ops@example.com", "oncall@example.com"]
    monkeypatch.setenv("VE_ADMIN_EMAILS", '["Ops@Example.com"]')
    assert Settings().admin_emails == ["ops@example.com"]
    monkeypatch.setenv("VE_ADMIN_EMAILS", "")
    assert Settings().admin_emails == []


def test_gpu_streams_give_a_stream_diffvsr_worker_one_job_slot_each(tmp_path: Path) -> None:
    batched = Settings(model_path=tmp_path, worker_gpu_streams=3)
    assert batched.job_slots == 3 and batched.stream_diffvsr_options()["gpu_streams"] == 3
    assert Settings(enhancer="lanczos", worker_gpu_streams=3).job_slots == 1
    assert Settings(model_path=tmp_path, worker_concurrency=2).job_slots == 2
    with pytest.raises(ValidationError):
        Settings(worker_gpu_streams=0)
