from __future__ import annotations

import json
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
    settings = Settings(
        env="production", jwt_secret="y" * 40, url_signing_secret="x" * 40, content_credentials="off"
    )
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


def test_production_refuses_a_short_url_signing_secret() -> None:
    with pytest.raises(ValidationError, match="VE_URL_SIGNING_SECRET must be set to at least 32 bytes"):
        Settings(env="production", jwt_secret="y" * 40, url_signing_secret="x" * 31)


def test_production_with_cloud_storage_needs_no_url_signing_secret() -> None:
    Settings(env="production", storage="gcs", jwt_secret="y" * 40, content_credentials="off")


def test_no_secret_has_a_public_default() -> None:
    for name in ("jwt_secret", "url_signing_secret"):
        default = Settings.model_fields[name].default
        assert default.get_secret_value() == "", f"{name} has a default anyone can read"


def test_development_generates_its_secrets_once_in_a_private_file(tmp_path: Path) -> None:
    path = tmp_path / "var" / "dev-secrets.json"

    first = Settings(env="development", dev_secrets_file=path)

    assert path.stat().st_mode & 0o777 == 0o600
    assert len(first.jwt_secret.get_secret_value().encode()) >= 32
    assert first.jwt_secret != first.url_signing_secret
    stored = json.loads(path.read_text())
    assert stored["jwt_secret"] == first.jwt_secret.get_secret_value()
    again = Settings(env="development", dev_secrets_file=path)
    assert (again.jwt_secret, again.url_signing_secret) == (first.jwt_secret, first.url_signing_secret)


def test_another_development_install_gets_other_secrets(tmp_path: Path) -> None:
    one = Settings(env="development", dev_secrets_file=tmp_path / "one.json")
    other = Settings(env="development", dev_secrets_file=tmp_path / "other.json")
    assert one.jwt_secret != other.jwt_secret


def test_a_development_token_signed_with_the_old_public_secret_is_refused(tmp_path: Path) -> None:
    import jwt as pyjwt

    from video_enhancer.auth.tokens import decode_access_token
    from video_enhancer.errors import InvalidToken

    settings = Settings(env="development", dev_secrets_file=tmp_path / "secrets.json")
    claims = {"sub": "6f1c0f5e-3c39-4a47-9d2e-0c1b8f7c8a11", "type": "access", "jti": "x"}
    claims |= {"iat": 1_700_000_000, "exp": 4_000_000_000}
    forged = pyjwt.encode(claims, "dev-only-insecure-jwt-secret-change-me", algorithm="HS256")
    with pytest.raises(InvalidToken):
        decode_access_token(forged, settings)


def test_configured_secrets_are_kept_as_given(tmp_path: Path) -> None:
    settings = Settings(env="development", dev_secrets_file=tmp_path / "s.json", jwt_secret="j" * 40)
    assert settings.jwt_secret.get_secret_value() == "j" * 40
    assert (
        settings.url_signing_secret.get_secret_value()
        == json.loads((tmp_path / "s.json").read_text())["url_signing_secret"]
    )


def test_worker_metrics_listen_on_loopback_unless_told_otherwise(monkeypatch: pytest.MonkeyPatch) -> None:
    assert Settings(env="test").worker_metrics_host == "127.0.0.1"
    monkeypatch.setenv("VE_WORKER_METRICS_HOST", "0.0.0.0")
    assert Settings(env="test").worker_metrics_host == "0.0.0.0"


def test_gpu_streams_give_a_stream_diffvsr_worker_one_job_slot_each(tmp_path: Path) -> None:
    batched = Settings(model_path=tmp_path, worker_gpu_streams=3)
    assert batched.job_slots == 3 and batched.stream_diffvsr_options().gpu_streams == 3
    assert Settings(enhancer="lanczos", worker_gpu_streams=3).job_slots == 1
    assert Settings(model_path=tmp_path, worker_concurrency=2).job_slots == 2
    with pytest.raises(ValidationError):
        Settings(worker_gpu_streams=0)
