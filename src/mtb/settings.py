"""Runtime configuration, read from `MTB_` environment variables (and `.env` if present)."""

from __future__ import annotations

from functools import lru_cache
from ipaddress import IPv4Network, IPv6Network
from pathlib import Path
from typing import Literal

from pydantic import Field, IPvAnyNetwork, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEV_SECRET = "dev-only-insecure-secret-please-change-me"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="MTB_", env_file=".env", extra="ignore")

    env: Literal["development", "production", "test"] = "development"
    # Production refuses to load or serve a catalog that still holds example values (mtb/catalog/examples.py)
    # unless the operator accepts them knowingly with this setting.
    allow_example_policy: bool = False
    database_url: str = "sqlite+aiosqlite:///var/mtb.sqlite3"
    # The hot reads' own connections (mtb/direct): pool size per worker on PostgreSQL, and whether
    # statements may be prepared on the server (turn off behind a transaction-pooling pgbouncer).
    direct_pool_size: int = Field(default=4, ge=1)
    database_prepared_statements: bool = True
    # The hot GET routes answered without FastAPI's routing (mtb/http/hotpaths.py); same answers either way.
    hot_paths: bool = True
    # SQLite: statements run on the event loop's thread, except those that can wait (mtb/db/sqlite_loop.py).
    sqlite_inline: bool = True
    storage_path: Path = Path("var/files")
    # Material files in an S3-compatible bucket: `s3://bucket/prefix`. Unset (or `file://path`): the local
    # directory storage_path (or that path). With S3, uploads are spooled under storage_path/tmp first. Unset
    # credentials fall back to boto3's usual chain (AWS_ variables, ~/.aws, an instance role).
    storage_url: str | None = None
    s3_endpoint_url: str | None = None  # e.g. http://minio:9000; unset: AWS S3
    s3_region: str | None = None
    s3_access_key_id: str | None = None
    s3_secret_access_key: SecretStr | None = None
    catalog_path: Path = Path("data/catalog")
    calendar_path: Path = Path("data/calendar/cn-workdays.yaml")
    # Derived files worth keeping between runs (the regular-weight instance of the form font).
    cache_path: Path = Path("var/cache")
    # Uploads: limits per file and per application, and what an image or PDF may be.
    max_upload_bytes: int = Field(default=10 * 1024 * 1024, ge=1)
    max_files_per_application: int = Field(default=20, ge=1)
    max_pdf_pages: int = Field(default=50, ge=1)
    # Longest side of a PDF page (its MediaBox and CropBox, times /UserUnit), in points (1/72 inch). A3,
    # the largest sheet a document scanner takes, is 842 x 1191; 1300 leaves room for a scanner's margin.
    max_pdf_page_points: int = Field(default=1300, ge=100, le=14400)
    max_image_pixels: int = Field(default=50_000_000, ge=1)
    min_image_side: int = Field(default=600, ge=1)
    reason_codes_path: Path = Path("data/review/reason-codes.yaml")
    claim_idle_minutes: int = Field(default=30, ge=1)
    # Share of approvals drawn at random for a senior reviewer's check (0 turns sampling off).
    quality_sample_rate: float = Field(default=0.05, ge=0, le=1)
    # After approval: reminders before expiry, the "expiring soon" status, the in-process job scheduler.
    reminder_days: list[int] = [60, 30, 7]
    expiring_soon_days: int = Field(default=60, ge=1)
    scheduler_enabled: bool = True
    # Material files no material refers to are removed after this long untouched (see materials/storage.py).
    storage_gc_grace_minutes: int = Field(default=60, ge=1)
    jobs_interval_seconds: int = Field(default=300, ge=5)
    # Signs access tokens. Rotating it logs everybody out, nothing more.
    secret_key: str = DEV_SECRET
    # Encrypts resident ID numbers and keys their lookup hash. Rotating it needs a re-encryption run,
    # so it is kept apart from the token secret.
    data_key: str = DEV_SECRET
    token_lifetime_minutes: int = Field(default=60, ge=1)
    # Channel login (docs/channels.md): the `aud` a channel's assertion must name, and the longest lifetime
    # (exp - iat) an assertion may have.
    channel_audience: str = "mtb"
    channel_assertion_max_seconds: int = Field(default=300, ge=30, le=3600)
    # Webhooks (docs/channels.md): each attempt's timeout, attempts before a message is given up, how often
    # the worker looks for due messages besides being woken by a commit, and messages taken at once.
    webhook_timeout_seconds: float = Field(default=10, gt=0, le=60)
    webhook_max_attempts: int = Field(default=12, ge=1)
    webhook_poll_seconds: float = Field(default=5, gt=0)
    webhook_batch: int = Field(default=20, ge=1)
    # Let webhook endpoints be private, loopback or link-local addresses (or names resolving to them). Off, only
    # public addresses are registered and delivered to (webhooks/destination.py: SSRF). For tests and local
    # demo receivers; in production only where channel applications really sit on the private network.
    webhook_allow_private: bool = False
    # Staff sessions end after this long without a request (pages renew the session while in use).
    staff_idle_minutes: int = Field(default=30, ge=1)
    # Eligibility questions one hospital key may ask per minute, per MTB process (qualifications/ratelimit.py).
    eligibility_per_minute: int = Field(default=600, ge=1)
    # Uploads one person or clerk may make per minute.
    uploads_per_minute: int = Field(default=30, ge=1)
    timezone: str = "Asia/Shanghai"
    log_level: str = "INFO"
    # Login throttling: this many failures within the window blocks the ID number (or client) for a while.
    # Per (ID number or username, client), per ID number or username from everyone, per client address
    # (identity/throttle.py: a stranger's failures never block the owner's device, nor a window clerk).
    login_max_failures: int = Field(default=5, ge=1)
    login_max_failures_per_account: int = Field(default=50, ge=1)
    login_max_failures_per_client: int = Field(default=20, ge=1)
    login_window_seconds: int = Field(default=900, ge=1)
    login_block_seconds: int = Field(default=900, ge=1)
    # Automated pre-review (docs/prereview.md): OCR of uploaded certificates and ID cards in the background,
    # at most `prereview_batch` materials per jobs run, on `prereview_threads` CPU threads at a time.
    prereview_enabled: bool = True
    prereview_batch: int = Field(default=20, ge=1)
    prereview_threads: int = Field(default=1, ge=1)
    # Share of fast-tracked (automatically approved) applications drawn for a person's check.
    fasttrack_sample_rate: float = Field(default=0.2, ge=0, le=1)
    # `mtb serve` on SIGTERM: readiness answers 503 at once; after the drain the server stops accepting and
    # gives requests in flight (uploads) up to the grace period to finish.
    shutdown_drain_seconds: float = Field(default=0, ge=0)
    shutdown_grace_seconds: int = Field(default=30, ge=1)
    # GET /metrics: allowed from these networks, or from anywhere with `Authorization: Bearer <token>`.
    metrics_networks: list[IPvAnyNetwork] = [IPv4Network("127.0.0.0/8"), IPv6Network("::1/128")]
    metrics_token: SecretStr | None = None

    @field_validator("storage_url")
    @classmethod
    def _storage_url(cls, value: str | None) -> str | None:
        from mtb.materials.location import parse_storage_url

        if value:
            parse_storage_url(value)  # a ValueError says what is wrong
        return value or None

    def is_insecure(self) -> bool:
        return DEV_SECRET in (self.secret_key, self.data_key)

    def production_problems(self) -> list[str]:
        """Why these settings must not serve real people (empty when they may)."""
        problems = []
        if self.is_insecure():
            problems.append("MTB_SECRET_KEY and MTB_DATA_KEY must be set (not the development defaults)")
        if min(len(self.secret_key), len(self.data_key)) < 32:
            problems.append("MTB_SECRET_KEY and MTB_DATA_KEY must be at least 32 characters")
        if self.secret_key == self.data_key:
            problems.append("MTB_SECRET_KEY and MTB_DATA_KEY must differ")
        return problems


@lru_cache
def get_settings() -> Settings:
    return Settings()
