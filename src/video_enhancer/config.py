"""The one place that reads the environment: every setting is `VE_<NAME>`.

`Settings` refuses the development JWT secret anywhere but in development and tests, so a
production deployment cannot start with a guessable key.
"""

from __future__ import annotations

import json
import re
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

if TYPE_CHECKING:
    from video_enhancer.enhancers.registry import EnhancerChoice
from video_enhancer.enhance_options import ENHANCE_DEFAULTS, ModelDtype, StreamDiffVSROptions

DEV_JWT_SECRET = "dev-only-insecure-jwt-secret-change-me"
DEV_URL_SIGNING_SECRET = "dev-only-insecure-url-signing-secret"

Environment = Literal["development", "test", "production"]
_MODEL_DEFAULTS = StreamDiffVSROptions()


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
    cors_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Browser origins allowed to call the API (CORS), comma-separated, e.g. "
        "`https://app.example.com`; `*` allows any. Empty: no cross-origin browser access.",
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
    content_credentials: Literal["on", "off"] = Field(
        "on",
        description="Sign every output and preview with C2PA Content Credentials (docs/worker.md). "
        "`off` only where another step marks the media; production refuses to start with `on` and "
        "no certificate.",
    )
    content_credentials_cert: Path | None = Field(
        None, description="PEM certificate chain (signer first) of the C2PA signing key."
    )
    content_credentials_key: Path | None = Field(
        None, description="PEM private key (ES256) of the C2PA signer."
    )
    content_credentials_dev_dir: Path = Field(
        Path("var/c2pa"),
        description="Outside production, a development signing pair is generated here once when none is set.",
    )
    preview_seconds: float = Field(
        3.0, gt=0, le=30, description="Length of a free before/after preview (`POST /videos/{id}/preview`)."
    )
    output_min_psnr_db: float = Field(
        15.0,
        description="Outputs whose PSNR against the source (at the source size) is lower are refused "
        "with OUTPUT_REJECTED and not charged (Lanczos scores about 30 dB on the test clips).",
    )
    output_min_ssim: float = Field(
        0.2, description="Outputs whose SSIM against the source is lower are refused (OUTPUT_REJECTED)."
    )
    output_quality_samples: int = Field(
        8, ge=1, description="Frames sampled to measure an output's fidelity to its source."
    )
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
    model_device: str = Field(_MODEL_DEFAULTS.device, description="`auto`, `cuda`, `cuda:N` or `cpu`.")
    model_dtype: ModelDtype = Field(
        _MODEL_DEFAULTS.dtype,
        description="Precision of UNet, ControlNet and autoencoder (RAFT and the scheduler stay fp32).",
    )
    encoder: str = Field(
        ENHANCE_DEFAULTS.encoder, description="Video encoder: `libx264`, or `h264_nvenc` when present."
    )
    encoder_preset: str = Field(ENHANCE_DEFAULTS.preset, description="Encoder preset.")
    encoder_crf: int = Field(
        ENHANCE_DEFAULTS.crf, ge=0, le=51, description="Constant rate factor (quality) of the encoder."
    )
    segment_seconds: float = Field(
        ENHANCE_DEFAULTS.segment_seconds, description="Length of a processing segment (the unit of resume)."
    )

    event_retention_days: int = Field(30, ge=1, description="Days the event log keeps job events.")
    event_poll_seconds: float = Field(
        0.5, gt=0, description="How often an API process checks the event log for its open streams."
    )
    stream_token_ttl_seconds: int = Field(
        300, ge=10, le=3600, description="Lifetime of a `?token=` event-stream token."
    )
    webhook_allow_private: bool = Field(
        False, description="Deliver webhooks to loopback and private addresses (development and tests only)."
    )
    webhook_retry_scale: float = Field(
        1.0, gt=0, description="Multiplies the webhook retry schedule (tests run it fast)."
    )
    webhook_disable_after_seconds: int = Field(
        3 * 86400, description="An endpoint failing for this long is disabled."
    )
    webhook_timeout_seconds: float = Field(10.0, gt=0, description="Timeout of one webhook delivery.")
    webhook_poll_seconds: float = Field(1.0, gt=0, description="How often an idle dispatcher looks for work.")

    # Email (verification and password reset)
    smtp_url: SecretStr | None = Field(
        None,
        description="SMTP server: smtp://[user:password@]host:port (add ?starttls=true for STARTTLS) or "
        "smtps://... Unset in development: mails are written to the log instead.",
    )
    mail_from: str = Field("Video Enhancer <no-reply@localhost>", description="From address of mails.")
    email_link_base_url: str | None = Field(
        None,
        description="Base of the links in mails (the app's universal-link domain); "
        "default VE_PUBLIC_BASE_URL.",
    )
    email_verification_ttl_hours: int = Field(48, ge=1, description="Lifetime of an email verification link.")
    password_reset_ttl_minutes: int = Field(30, ge=1, description="Lifetime of a password reset link.")
    password_reset_rate_limit_attempts: int = Field(
        3, description="Reset requests per email per login rate-limit window (0 disables)."
    )
    password_reset_rate_limit_ip_attempts: int = Field(
        20, description="Reset requests per client IP per login rate-limit window (0 disables)."
    )
    mail_poll_seconds: float = Field(5.0, gt=0, description="How often the mail sender looks for new mail.")
    mail_max_attempts: int = Field(8, ge=1, description="Delivery attempts before a mail is given up.")

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

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _split_origins(cls, value: object) -> object:
        """`https://a.example,https://b.example` (or a JSON list); each a bare origin, or `*`."""
        if isinstance(value, str):
            text = value.strip()
            value = json.loads(text) if text.startswith("[") else text.split(",")
        if isinstance(value, list):
            return [_origin(str(origin)) for origin in value if str(origin).strip()]
        return value

    @model_validator(mode="after")
    def _refuse_default_secrets_outside_development(self) -> Settings:
        if self.env == "production":
            if self.jwt_secret.get_secret_value() == DEV_JWT_SECRET:
                raise ValueError("VE_JWT_SECRET must be set to a strong secret in production")
            if self.url_signing_secret.get_secret_value() == DEV_URL_SIGNING_SECRET:
                raise ValueError("VE_URL_SIGNING_SECRET must be set to a strong secret in production")
        if self.webhook_allow_private and self.env == "production":
            raise ValueError("VE_WEBHOOK_ALLOW_PRIVATE is for development and tests only")
        if len(self.jwt_secret.get_secret_value()) < 32 and self.env == "production":
            raise ValueError("VE_JWT_SECRET must be at least 32 characters")
        if self.env == "production" and self.content_credentials == "on":
            if self.content_credentials_cert is None or self.content_credentials_key is None:
                raise ValueError(
                    "VE_CONTENT_CREDENTIALS_CERT and VE_CONTENT_CREDENTIALS_KEY must be set in production "
                    "(or VE_CONTENT_CREDENTIALS=off)"
                )
        return self

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def resolved_enhancer(self) -> str:
        return self.enhancer_choice().name

    def enhancer_choice(self) -> EnhancerChoice:
        """Which enhancer the worker will load, and why (the module is not imported: no torch)."""
        from video_enhancer.enhancers.registry import choose_enhancer

        return choose_enhancer(self.enhancer, model_configured=bool(self.model_path or self.model_id))

    def stream_diffvsr_options(self) -> StreamDiffVSROptions:
        """The stream-diffvsr enhancer's options from the `VE_MODEL_*` settings."""
        return StreamDiffVSROptions(
            model_path=self.model_path,
            model_id=self.model_id,
            flow_weights=self.flow_weights,
            device=self.model_device,
            dtype=self.model_dtype,
        )


_ORIGIN = re.compile(r"^https?://[^/\s?#]+$")


def _origin(text: str) -> str:
    """A CORS origin as browsers send it: scheme and host (and port), no path or trailing slash."""
    origin = text.strip().rstrip("/")
    if origin != "*" and not _ORIGIN.match(origin):
        raise ValueError(f"VE_CORS_ORIGINS: {origin!r} is not an origin such as https://app.example.com")
    return origin


@lru_cache
def get_settings() -> Settings:
    return Settings()
