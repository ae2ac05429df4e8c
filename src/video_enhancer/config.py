"""The one place that reads the environment: every setting is `VE_<NAME>`.

No secret has a default value anyone could read in this repository. Production refuses to start
without strong secrets; a development install (and a test run) generates its own once, in a file
only its owner can read (`VE_DEV_SECRETS_FILE`), and reuses them, so every process of the
install (API instances, workers) agrees on them.
"""

from __future__ import annotations

import ipaddress
import json
import re
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

if TYPE_CHECKING:
    from video_enhancer.enhancers.registry import EnhancerChoice
from video_enhancer.enhance_options import ENHANCE_DEFAULTS, ModelCompile, ModelDtype, StreamDiffVSROptions
from video_enhancer.secrets_file import MIN_SECRET_BYTES, generated_secrets

Environment = Literal["development", "test", "production"]
_MODEL_DEFAULTS = StreamDiffVSROptions()
EnhancerSetting = Literal[
    "auto", "lanczos", "stream-diffvsr", "realesrgan-x4plus", "realesr-general-x4v3", "realesr-animevideov3"
]


def _auto_enhancers() -> list[EnhancerSetting]:
    return ["auto"]


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="VE_", env_file=".env", extra="ignore")

    # General
    env: Environment = Field(
        "development", description="development, test or production (production requires its secrets)"
    )
    log_level: str = Field("INFO", description="Log level of the JSON logs.")
    public_base_url: str = Field(
        "http://127.0.0.1:8000", description="Base URL the app reaches the API at (used in signed URLs)."
    )
    admin_emails: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Emails with admin rights once their owner has verified them, comma-separated "
        "(`video-enhancer users grant-admin EMAIL` needs no verification).",
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
    db_pool_size: int = Field(
        10,
        description="Connection pool size per process (as many again of overflow); as many API requests "
        "use the database at once, the others wait for a turn. On PostgreSQL an API process also keeps "
        "half as many (at least 2) asyncio connections for polled reads.",
    )

    # Auth
    jwt_secret: SecretStr = Field(
        SecretStr(""),
        description="HS256 key for access tokens; at least 32 bytes. Required in production; a "
        "development install generates one in `VE_DEV_SECRETS_FILE`.",
    )
    dev_secrets_file: Path = Field(
        Path("var/dev-secrets.json"),
        description="Development and tests: where the generated secrets are kept (mode 0600).",
    )
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
    register_rate_limit_ip_attempts: int = Field(
        10, description="Registrations allowed per client IP in the window (0 disables)."
    )
    register_rate_limit_window_seconds: int = Field(3600, description="Registration rate-limit window.")

    # HTTP
    max_json_body_bytes: int = Field(
        65536,
        ge=1024,
        description="Largest request body the API reads (uploads through signed URLs excepted); "
        "larger ones answer 413 BODY_TOO_LARGE before any parsing.",
    )
    trusted_proxies: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Proxy addresses or CIDR ranges whose `X-Forwarded-For` is believed, "
        "comma-separated; empty: the peer address is the client.",
    )

    # Storage
    storage: Literal["local", "gcs"] = Field(
        "local", description="`local` (a folder, URLs served by the API) or `gcs` (Google Cloud Storage)."
    )
    storage_root: Path = Field(Path("var/storage"), description="Folder of the local storage backend.")
    url_signing_secret: SecretStr = Field(
        SecretStr(""),
        description="HMAC key of the local storage's signed URLs; at least 32 bytes. Required in "
        "production with local storage; generated like `VE_JWT_SECRET` in development.",
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
    raw_retention_hours: int = Field(
        72, ge=0, description="Uploaded videos of failed and canceled jobs are deleted after this."
    )
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
    worker_gpu_streams: int = Field(
        1,
        ge=1,
        description="Jobs a stream-diffvsr worker runs at once on its device, batched frame by frame "
        "through one model thread (1: one job at a time, no batching).",
    )
    split_videos: bool = Field(
        True,
        description="With `VE_WORKER_GPU_STREAMS` > 1: run the segments of one video as parallel streams "
        "in the batch rows no other job fills (a long video alone on a GPU fills the batch by itself).",
    )
    segment_warmup_frames: int = Field(
        8,
        ge=0,
        description="Frames a split video's stream enhances and discards before its first segment, "
        "to rebuild the model's history and hide the seam (ADR 0009).",
    )
    worker_id: str | None = Field(None, description="Worker name in leases and logs (default: host and pid).")
    worker_metrics_port: int = Field(9100, description="Port of the worker's /metrics, /healthz and /readyz.")
    worker_metrics_host: str = Field(
        "127.0.0.1",
        description="Interface of the worker's metrics server; `0.0.0.0` in a container whose "
        "probes come from outside.",
    )
    worker_scratch_dir: Path = Field(
        Path("var/scratch"), description="Worker's scratch folder for downloads and segments."
    )
    enhancer: Literal[
        "auto",
        "lanczos",
        "stream-diffvsr",
        "realesrgan-x4plus",
        "realesr-general-x4v3",
        "realesr-animevideov3",
    ] = Field(
        "auto",
        description="auto: stream-diffvsr when model weights are configured, else lanczos; "
        "or a Real-ESRGAN model (its weights in `VE_MODELS_DIR`).",
    )
    enhancers: Annotated[list[EnhancerSetting], NoDecode] = Field(
        default_factory=_auto_enhancers,
        description="What a worker loads and runs: `auto` (the one `VE_ENHANCER` selects; the worker takes "
        "any job) or a comma-separated list such as `stream-diffvsr,realesrgan-x4plus` (it takes only "
        "jobs asking for one of them).",
    )
    enhancer_wait_alert_seconds: int = Field(
        600, ge=1, description="Alert when a job has waited this long for an enhancer no live worker offers."
    )
    max_batch_size: int = Field(20, ge=1, le=100, description="Videos one `POST /batches` may hold.")
    models_dir: Path = Field(
        Path("var/models"),
        description="Folder of Real-ESRGAN weights under their published file names "
        "(`video-enhancer models download NAME --dir ...` fills it).",
    )
    realesrgan_tile: int = Field(
        512,
        ge=0,
        description="Real-ESRGAN tile side in input pixels (0: whole frames); lower it on small GPUs.",
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
    flow_scale: float = Field(
        _MODEL_DEFAULTS.flow_scale,
        gt=0,
        le=1,
        description="Stream-DiffVSR's optical flow at this fraction of the output size (1: the reference; "
        "0.5 needs a quarter of the flow memory and time, not the reference output).",
    )
    model_compile: ModelCompile = Field(
        _MODEL_DEFAULTS.compile_mode,
        description="`compile`: torch.compile UNet and ControlNet with static shapes (one graph per batch "
        "size; the first frames of each are slow); `cuda-graphs`: the same, replayed as CUDA graphs "
        "(CUDA only, else as `compile`); `off`: eager.",
    )
    encoder: str = Field(
        ENHANCE_DEFAULTS.encoder, description="Video encoder: `libx264`, or `h264_nvenc` when present."
    )
    encoder_priority: Literal["size", "speed"] = Field(
        "size",
        description="`speed`: encode with the GPU's `h264_nvenc` where it opens (larger files, no CPU "
        "cost), falling back to `VE_ENCODER`, and decode with NVDEC where CUDA opens, else on the CPU; "
        "`size`: always `VE_ENCODER`, CPU decode.",
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

    deinterlace_rate: Literal["field", "frame"] = Field(
        "field",
        description="Interlaced input becomes one frame per field (`field`: 50/60 p from 50/60 i) "
        "or one per frame (`frame`: 25/30 p).",
    )

    # Media limits (work per charged minute; refused before decoding)
    media_max_pixels: int = Field(
        4096 * 2304, gt=0, description="Largest input picture, coded width x height (4K and DCI 4K fit)."
    )
    media_max_frame_rate: float = Field(
        120.0, gt=0, description="Highest input frame rate (frames per second)."
    )
    media_max_frames_per_minute: int = Field(
        7200,
        gt=0,
        description="Most frames to enhance per charged minute (fields when deinterlacing at field rate).",
    )

    @field_validator("admin_emails", mode="before")
    @classmethod
    def _split_emails(cls, value: object) -> object:
        """`a@x.org,b@x.org` (or a JSON list) from the environment; compared case-insensitively."""
        entries = _list_entries(value)
        return [entry.lower() for entry in entries] if entries is not None else value

    @field_validator("enhancers", mode="before")
    @classmethod
    def _split_enhancers(cls, value: object) -> object:
        """`stream-diffvsr,realesrgan-x4plus` (or a JSON list) from the environment."""
        entries = _list_entries(value)
        return (entries or ["auto"]) if entries is not None else value

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _split_origins(cls, value: object) -> object:
        """`https://a.example,https://b.example` (or a JSON list); each a bare origin, or `*`."""
        entries = _list_entries(value)
        return [_origin(origin) for origin in entries] if entries is not None else value

    @field_validator("trusted_proxies", mode="before")
    @classmethod
    def _split_proxies(cls, value: object) -> object:
        """`10.0.0.1,35.191.0.0/16` from the environment; each entry must parse as an address or range."""
        if isinstance(value, str):
            value = [entry.strip() for entry in value.split(",") if entry.strip()]
        if isinstance(value, list):
            for entry in value:
                ipaddress.ip_network(str(entry), strict=False)  # ValueError names the bad entry
        return value

    @model_validator(mode="after")
    def _cdn_needs_its_key(self) -> Settings:
        if self.download_urls == "cdn" and not (self.cdn_base_url and self.cdn_key_name and self.cdn_key):
            raise ValueError("VE_DOWNLOAD_URLS=cdn needs VE_CDN_BASE_URL, VE_CDN_KEY_NAME and VE_CDN_KEY")
        return self

    @model_validator(mode="after")
    def _resolve_secrets(self) -> Settings:
        if self.env == "production":
            self._check_production_secrets()
            if self.webhook_allow_private:
                raise ValueError("VE_WEBHOOK_ALLOW_PRIVATE is for development and tests only")
            if self.content_credentials == "on" and (
                self.content_credentials_cert is None or self.content_credentials_key is None
            ):
                raise ValueError(
                    "VE_CONTENT_CREDENTIALS_CERT and VE_CONTENT_CREDENTIALS_KEY must be set in production "
                    "(or VE_CONTENT_CREDENTIALS=off)"
                )
            return self
        generated = generated_secrets(self.dev_secrets_file)
        for name in ("jwt_secret", "url_signing_secret"):
            if not getattr(self, name).get_secret_value():
                object.__setattr__(self, name, SecretStr(generated[name]))
        return self

    def _check_production_secrets(self) -> None:
        if len(self.jwt_secret.get_secret_value().encode()) < MIN_SECRET_BYTES:
            raise ValueError(f"VE_JWT_SECRET must be set to at least {MIN_SECRET_BYTES} bytes in production")
        url_secret = self.url_signing_secret.get_secret_value()
        if (url_secret or self.storage == "local") and len(url_secret.encode()) < MIN_SECRET_BYTES:
            raise ValueError(
                f"VE_URL_SIGNING_SECRET must be set to at least {MIN_SECRET_BYTES} bytes in production"
            )

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def job_slots(self) -> int:
        """Jobs one worker process runs at once: batched GPU streams run one job each."""
        streams = self.worker_gpu_streams if self.resolved_enhancer == "stream-diffvsr" else 1
        return max(self.worker_concurrency, streams)

    @property
    def resolved_enhancer(self) -> str:
        return self.enhancer_choice().name

    def enhancer_choice(self) -> EnhancerChoice:
        """Which enhancer the worker will load, and why (the module is not imported: no torch)."""
        from video_enhancer.enhancers.registry import choose_enhancer

        return choose_enhancer(self.enhancer, model_configured=bool(self.model_path or self.model_id))

    def worker_enhancers(self) -> list[str]:
        """The enhancers a worker loads: `VE_ENHANCERS`, or the one `VE_ENHANCER` selects for `auto`."""
        if self.enhancers == ["auto"]:
            return [self.resolved_enhancer]
        return list(dict.fromkeys(name for name in self.enhancers if name != "auto"))

    @property
    def claims_any_enhancer(self) -> bool:
        """`VE_ENHANCERS=auto`: today's behaviour, the worker takes every job."""
        return "auto" in self.enhancers

    def realesrgan_options(self, enhancer: str) -> dict[str, Any]:
        """Constructor arguments of a Real-ESRGAN enhancer: its file in `VE_MODELS_DIR`."""
        from video_enhancer.enhancers.weights import weights_path

        return {
            "weights": weights_path(self.models_dir, enhancer),
            "device": self.model_device,
            "tile": self.realesrgan_tile,
        }

    def stream_diffvsr_options(self) -> StreamDiffVSROptions:
        """The stream-diffvsr enhancer's options from the `VE_MODEL_*` settings."""
        return StreamDiffVSROptions(
            model_path=self.model_path,
            model_id=self.model_id,
            flow_weights=self.flow_weights,
            device=self.model_device,
            dtype=self.model_dtype,
            gpu_streams=self.worker_gpu_streams,
            flow_scale=self.flow_scale,
            compile_mode=self.model_compile,
        )


_ORIGIN = re.compile(r"^https?://[^/\s?#]+$")


def _list_entries(value: object) -> list[str] | None:
    """A list setting from the environment, `a,b` or a JSON list, as its non-empty stripped
    entries; None when `value` is neither a string nor a list (left to validation)."""
    if isinstance(value, str):
        text = value.strip()
        value = json.loads(text) if text.startswith("[") else text.split(",")
    if isinstance(value, list):
        return [str(entry).strip() for entry in value if str(entry).strip()]
    return None


def _origin(text: str) -> str:
    """A CORS origin as browsers send it: scheme and host (and port), no path or trailing slash."""
    origin = text.strip().rstrip("/")
    if origin != "*" and not _ORIGIN.match(origin):
        raise ValueError(f"VE_CORS_ORIGINS: {origin!r} is not an origin such as https://app.example.com")
    return origin


@lru_cache
def get_settings() -> Settings:
    return Settings()
