"""The one place that reads the environment: every setting is `VE_<NAME>`.

`Settings` refuses the development JWT secret anywhere but in development and tests, so a
production deployment cannot start with a guessable key.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

DEV_JWT_SECRET = "dev-only-insecure-jwt-secret-change-me"
DEV_URL_SIGNING_SECRET = "dev-only-insecure-url-signing-secret"

Environment = Literal["development", "test", "production"]


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="VE_", env_file=".env", extra="ignore")

    # General
    env: Environment = Field(
        "development", description="development, test or production (production refuses the default secrets)"
    )
    log_level: str = Field("INFO", description="Log level of the JSON logs.")
    public_base_url: str = Field(
        "http://127.0.0.1:8000", description="Base URL the app reaches the API at (used in signed URLs)."
    )
    admin_emails: Annotated[list[str], NoDecode] = Field(
        default_factory=list, description="Emails with admin rights, comma-separated."
    )

    # Database
    database_url: str = Field(
        "sqlite:///var/video_enhancer.db",
        description="SQLAlchemy URL: SQLite file by default, `postgresql+psycopg://...` in production.",
    )
    db_pool_size: int = Field(10, description="Connection pool size per process (PostgreSQL).")

    # Auth
    jwt_secret: SecretStr = Field(SecretStr(DEV_JWT_SECRET), description="HS256 key for access tokens.")
    access_token_ttl_seconds: int = Field(3600, description="Access token lifetime.")
    refresh_token_ttl_days: int = Field(30, description="Refresh token lifetime.")
    bcrypt_rounds: int = Field(12, ge=4, le=16, description="bcrypt cost factor for passwords.")
    login_rate_limit_attempts: int = Field(
        10, description="Failed logins allowed per email in the window (0 disables)."
    )
    login_rate_limit_ip_attempts: int = Field(
        100,
        description="Failed logins allowed per client IP in the window (0 disables); higher than "
        "per email, as many phones share a carrier's NAT address.",
    )
    login_rate_limit_window_seconds: int = Field(300, description="Login rate-limit window.")

    # Storage
    storage: Literal["local", "gcs"] = Field(
        "local", description="`local` (a folder, URLs served by the API) or `gcs` (Google Cloud Storage)."
    )
    storage_root: Path = Field(Path("var/storage"), description="Folder of the local storage backend.")
    url_signing_secret: SecretStr = Field(
        SecretStr(DEV_URL_SIGNING_SECRET), description="HMAC key of the local storage's signed URLs."
    )
    raw_bucket: str = Field(
        "video-enhancer-raw", description="Bucket (or local sub-folder) of uploaded videos."
    )
    enhanced_bucket: str = Field(
        "video-enhancer-enhanced", description="Bucket (or local sub-folder) of enhanced videos and segments."
    )
    download_urls: Literal["storage", "cdn"] = Field(
        "storage", description="Sign download URLs with the storage backend, or for Cloud CDN."
    )
    cdn_base_url: str | None = Field(
        None,
        description="Cloud CDN origin of the enhanced bucket's backend bucket, e.g. https://cdn.example.com.",
    )
    cdn_key_name: str | None = Field(None, description="Name of the CDN signing key on the backend bucket.")
    cdn_key: SecretStr | None = Field(None, description="The 128-bit CDN signing key, base64url-encoded.")
    upload_url_ttl_seconds: int = Field(3600, description="Lifetime of a signed upload URL.")
    download_url_ttl_seconds: int = Field(3600, description="Lifetime of a signed download URL.")
    upload_expiry_seconds: int = Field(86400, description="An upload never finished expires after this.")
    gcs_project: str | None = Field(None, description="Google Cloud project of the buckets.")
    gcs_endpoint: str | None = Field(None, description="Emulator endpoint, e.g. http://127.0.0.1:4443.")
    gcs_credentials_file: Path | None = Field(
        None, description="Service-account key file (else application default credentials)."
    )
    gcs_signing_service_account: str | None = Field(
        None, description="Service account email for IAM signBlob signing (no key file)."
    )

    # Queue
    queue: Literal["database", "pubsub"] = Field(
        "database",
        description="`database` (jobs claimed from the database) or `pubsub` (Google Cloud Pub/Sub).",
    )
    queue_aging_seconds: int = Field(
        600, description="A waiting job gains one priority level per this many seconds (no starvation)."
    )
    queue_poll_seconds: float = Field(
        1.0, description="SQLite polling interval of idle workers (PostgreSQL uses LISTEN/NOTIFY)."
    )
    job_lease_seconds: int = Field(
        120, description="A worker's claim on a job lasts this long unless extended."
    )
    job_max_attempts: int = Field(
        3, description="Attempts before a job whose worker keeps failing is FAILED."
    )
    pubsub_project: str = Field("video-enhancer-local", description="Pub/Sub project.")
    pubsub_emulator_host: str | None = Field(
        None, description="Pub/Sub emulator `host:port` (tests and local stack)."
    )
    pubsub_topic: str = Field("video-jobs", description="Topic that QUEUED jobs are published to.")
    pubsub_subscription: str = Field(
        "video-jobs-subscription", description="Subscription prefix the workers consume."
    )
    pubsub_dead_letter_topic: str = Field(
        "video-jobs-dead-letter", description="Topic that takes messages after too many deliveries."
    )
    pubsub_max_deliveries: int = Field(
        5, description="Deliveries before a message goes to the dead-letter topic."
    )
    pubsub_upload_notifications_subscription: str = Field(
        "video-uploads-finalized",
        description="Subscription of the raw bucket's object-finalize notifications.",
    )

    # Worker and model
    worker_concurrency: int = Field(1, description="Jobs a worker process runs at once (one per GPU).")
    worker_id: str | None = Field(None, description="Worker name in leases and logs (default: host and pid).")
    worker_metrics_port: int = Field(9100, description="Port of the worker's /metrics, /healthz and /readyz.")
    worker_scratch_dir: Path = Field(
        Path("var/scratch"), description="Worker's scratch folder for downloads and segments."
    )
    enhancer: Literal["auto", "lanczos", "stream-diffvsr"] = Field(
        "auto", description="auto: stream-diffvsr when model weights are configured, else lanczos."
    )
    model_path: Path | None = Field(
        None, description="Folder with Stream-DiffVSR weights in the published layout."
    )
    model_id: str | None = Field(
        None, description="Hugging Face hub id of the weights (when the machine is online)."
    )
    flow_weights: Path | None = Field(None, description="RAFT-large weights file (torchvision format).")
    model_device: str = Field("auto", description="`auto`, `cuda`, `cuda:N` or `cpu`.")
    model_dtype: Literal["float32", "float16", "bfloat16"] = Field(
        "float16",
        description="Precision of UNet, ControlNet and autoencoder (RAFT and the scheduler stay fp32).",
    )
    encoder: str = Field("libx264", description="Video encoder: `libx264`, or `h264_nvenc` when present.")
    encoder_preset: str = Field("slow", description="Encoder preset.")
    encoder_crf: int = Field(18, ge=0, le=51, description="Constant rate factor (quality) of the encoder.")
    segment_seconds: float = Field(4.0, description="Length of a processing segment (the unit of resume).")

    @field_validator("admin_emails", mode="before")
    @classmethod
    def _split_emails(cls, value: object) -> object:
        """`a@x.org,b@x.org` (or a JSON list) from the environment; compared case-insensitively."""
        if isinstance(value, str):
            text = value.strip()
            value = json.loads(text) if text.startswith("[") else text.split(",")
        if isinstance(value, list):
            return [str(email).strip().lower() for email in value if str(email).strip()]
        return value

    @model_validator(mode="after")
    def _cdn_needs_its_key(self) -> Settings:
        if self.download_urls == "cdn" and not (self.cdn_base_url and self.cdn_key_name and self.cdn_key):
            raise ValueError("VE_DOWNLOAD_URLS=cdn needs VE_CDN_BASE_URL, VE_CDN_KEY_NAME and VE_CDN_KEY")
        return self

    @model_validator(mode="after")
    def _refuse_default_secrets_outside_development(self) -> Settings:
        if self.env == "production":
            if self.jwt_secret.get_secret_value() == DEV_JWT_SECRET:
                raise ValueError("VE_JWT_SECRET must be set to a strong secret in production")
            if self.url_signing_secret.get_secret_value() == DEV_URL_SIGNING_SECRET:
                raise ValueError("VE_URL_SIGNING_SECRET must be set to a strong secret in production")
        if len(self.jwt_secret.get_secret_value()) < 32 and self.env == "production":
            raise ValueError("VE_JWT_SECRET must be at least 32 characters")
        return self

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def resolved_enhancer(self) -> str:
        if self.enhancer != "auto":
            return self.enhancer
        return "stream-diffvsr" if (self.model_path or self.model_id) else "lanczos"

    def stream_diffvsr_options(self) -> dict[str, Any]:
        """Constructor arguments of the stream-diffvsr enhancer."""
        return {
            "model_path": self.model_path,
            "model_id": self.model_id,
            "flow_weights": self.flow_weights,
            "device": self.model_device,
            "dtype": self.model_dtype,
        }


@lru_cache
def get_settings() -> Settings:
    return Settings()
