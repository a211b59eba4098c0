"""The one place that reads the environment (and .env)."""

from __future__ import annotations

import json
import re
from enum import StrEnum
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

_RATE = re.compile(r"\d+\s*(/|per)\s*(\d+\s*)?(second|minute|hour|day|month|year)s?", re.IGNORECASE)


class PaymentBackend(StrEnum):
    local = "local"  # billflow's own demo pay page (no money moves); zero setup, refused in production
    stripe = "stripe"


class EmailBackend(StrEnum):
    outbox = "outbox"  # rendered mail is stored in the database and printable; zero setup, refused in production
    sendgrid = "sendgrid"
    smtp = "smtp"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", env_prefix="", extra="ignore")

    # Where billflow keeps embedded PostgreSQL, the dev server's SQLite file and the outbox.
    data_dir: Path = Field(default=Path(".billflow"), alias="BILLFLOW_DATA_DIR")
    # Unset: billflow starts the embedded PostgreSQL server under data_dir.
    database_url: str | None = Field(default=None, alias="DATABASE_URL")
    # PostgreSQL row-level security as the second wall between workspaces (docs/workspaces.md): every
    # transaction names its workspace. It binds when DATABASE_URL's role owns no table (BILLFLOW_ROW_SECURITY=1).
    row_security: bool = Field(default=False, alias="BILLFLOW_ROW_SECURITY")

    temporal_address: str = Field(default="127.0.0.1:7233", alias="TEMPORAL_ADDRESS")
    temporal_namespace: str = Field(default="default", alias="TEMPORAL_NAMESPACE")
    task_queue: str = Field(default="billflow", alias="BILLFLOW_TASK_QUEUE")
    # Workflow runs a worker keeps in memory; an evicted run is replayed from its history on its next task.
    # Raise it when many runs wake together (10,000 subscriptions due in one minute: bench/recurring.py).
    worker_cache_size: int = Field(default=1000, ge=0, alias="BILLFLOW_WORKER_CACHE")
    # Workflow tasks a worker works on at once. Each is CPU in one interpreter: taking more than it can run only
    # ages them in its queue until Temporal's 5 s task timeout retries them. With the SDK's 100, a restart owing
    # 500 runs a signal timed tasks out (TMPRL1104); with 20, none, and the same invoices/s (2026-12-04).
    worker_workflow_tasks: int = Field(default=20, ge=2, le=1000, alias="BILLFLOW_WORKER_WORKFLOW_TASKS")
    # Processes beside the worker that render document files (PDFs); 0 renders in a thread of the worker itself.
    # A PDF is CPU work that held the worker's interpreter lock for as long as its event loop ran everything else.
    render_processes: int = Field(default=1, ge=0, alias="BILLFLOW_RENDER_PROCESSES")

    public_base_url: str = Field(default="http://127.0.0.1:8000", alias="BILLFLOW_PUBLIC_URL")
    api_host: str = Field(default="127.0.0.1", alias="BILLFLOW_API_HOST")
    api_port: int = Field(default=8000, alias="BILLFLOW_API_PORT")

    # Signs staff app session and CSRF cookies; unset: a random one per process (sessions end at restart).
    secret_key: str | None = Field(default=None, min_length=32, alias="BILLFLOW_SECRET_KEY")

    business_name: str = Field(default="billflow demo studio", alias="BILLFLOW_BUSINESS_NAME")
    staff_email: str = Field(default="billing@example.com", alias="BILLFLOW_STAFF_EMAIL")
    from_email: str = Field(default="invoices@example.com", alias="BILLFLOW_FROM_EMAIL")
    # The seller on every document (issue 14; workspaces will move it to a table): read it only through
    # billflow.services.business_profile.current_business_profile, which validates it (VAT id, IBAN/BIC).
    business_legal_name: str | None = Field(default=None, alias="BILLFLOW_BUSINESS_LEGAL_NAME")
    business_address_line1: str | None = Field(default=None, alias="BILLFLOW_BUSINESS_ADDRESS_LINE1")
    business_postcode: str | None = Field(default=None, alias="BILLFLOW_BUSINESS_POSTCODE")
    business_city: str | None = Field(default=None, alias="BILLFLOW_BUSINESS_CITY")
    business_country: str | None = Field(default=None, alias="BILLFLOW_BUSINESS_COUNTRY")  # ISO 3166 alpha-2
    business_vat_id: str | None = Field(default=None, alias="BILLFLOW_BUSINESS_VAT_ID")
    business_registration: str | None = Field(default=None, alias="BILLFLOW_BUSINESS_REGISTRATION")
    business_iban: str | None = Field(default=None, alias="BILLFLOW_BUSINESS_IBAN")
    business_bic: str | None = Field(default=None, alias="BILLFLOW_BUSINESS_BIC")
    # The seller's contact phone on documents (XRechnung requires it, BR-DE-6).
    business_phone: str | None = Field(default=None, alias="BILLFLOW_BUSINESS_PHONE")
    # The logo printed on documents (PNG or JPEG file); unset: the business name alone.
    business_logo: Path | None = Field(default=None, alias="BILLFLOW_BUSINESS_LOGO")

    payment_backend: PaymentBackend = Field(default=PaymentBackend.local, alias="BILLFLOW_PAYMENT_BACKEND")
    email_backend: EmailBackend = Field(default=EmailBackend.outbox, alias="BILLFLOW_EMAIL_BACKEND")

    stripe_api_key: str | None = Field(default=None, alias="STRIPE_API_KEY")
    stripe_webhook_secret: str | None = Field(default=None, alias="STRIPE_WEBHOOK_SECRET")
    # The signing secret of the Connect endpoint (/webhooks/stripe/connect): events of workspaces' connected
    # accounts, which Stripe signs with that endpoint's own secret (docs/providers.md).
    stripe_connect_webhook_secret: str | None = Field(default=None, alias="STRIPE_CONNECT_WEBHOOK_SECRET")
    stripe_api_base: str | None = Field(default=None, alias="STRIPE_API_BASE")
    sendgrid_api_key: str | None = Field(default=None, alias="SENDGRID_API_KEY")
    sendgrid_api_host: str | None = Field(default=None, alias="SENDGRID_API_HOST")
    # Email (issue 3): SendGrid extras, SMTP, and the provider call's timeout (a timeout is an unknown outcome).
    sendgrid_event_public_key: str | None = Field(default=None, alias="SENDGRID_EVENT_PUBLIC_KEY")
    sendgrid_sandbox_mode: bool = Field(default=False, alias="SENDGRID_SANDBOX_MODE")
    sendgrid_template_ids: dict[str, str] = Field(default_factory=dict, alias="SENDGRID_TEMPLATE_IDS")  # kind -> d-...
    smtp_host: str = Field(default="127.0.0.1", alias="SMTP_HOST")
    smtp_port: int = Field(default=25, alias="SMTP_PORT")
    smtp_username: str | None = Field(default=None, alias="SMTP_USERNAME")
    smtp_password: str | None = Field(default=None, alias="SMTP_PASSWORD")
    smtp_security: Literal["none", "starttls", "tls"] = Field(default="none", alias="SMTP_SECURITY")
    email_timeout_seconds: float = Field(default=20.0, gt=0, le=120, alias="BILLFLOW_EMAIL_TIMEOUT")
    # Unsettled emails (handed to SendGrid, no answer recorded): re-sent when no SendGrid event names them this
    # long after the hand-over while later events did arrive; the sweep runs every `email_reconcile_every`.
    email_resend_after_seconds: int = Field(default=600, ge=1, alias="BILLFLOW_EMAIL_RESEND_AFTER")
    email_reconcile_every_seconds: int = Field(default=300, ge=1, alias="BILLFLOW_EMAIL_RECONCILE_EVERY")
    # Collections (issue 16): how long a transfer the client reports is awaited, the grace after a promised
    # day, how far ahead a promise may go, and how many answers one invoice page may send per hour.
    transfer_wait_days: int = Field(default=5, ge=1, le=60, alias="BILLFLOW_TRANSFER_WAIT_DAYS")
    promise_grace_days: int = Field(default=2, ge=0, le=30, alias="BILLFLOW_PROMISE_GRACE_DAYS")
    promise_max_days: int = Field(default=60, ge=1, le=366, alias="BILLFLOW_PROMISE_MAX_DAYS")
    client_answers_per_hour: int = Field(default=5, ge=1, le=1000, alias="BILLFLOW_CLIENT_ANSWERS_PER_HOUR")

    # Recurring billing: a subscription created with a past start date bills the periods already due at once
    # (one invoice workflow each); more than this many is refused (422 naming start_date).
    subscription_max_backfill_periods: int = Field(
        default=12, ge=0, le=1000, alias="BILLFLOW_SUBSCRIPTION_MAX_BACKFILL"
    )

    # Operations. production: JSON logs, every secret given (no embedded database, no defaults), and real
    # providers only (Stripe; SendGrid or SMTP).
    # Reports (issue 11, item 12): "today" and "as of a day" are read in this IANA zone, for every report, list,
    # the dashboard and the client views alike, whatever each client's own zone.
    reporting_timezone: str = Field(default="UTC", alias="BILLFLOW_REPORTING_TIMEZONE")

    env: Literal["development", "production"] = Field(default="development", alias="BILLFLOW_ENV")
    log_format: Literal["console", "json"] | None = Field(default=None, alias="BILLFLOW_LOG_FORMAT")
    log_level: str = Field(default="INFO", alias="BILLFLOW_LOG_LEVEL")
    # The worker's Prometheus metrics and /healthz, /readyz; unset: not served.
    metrics_port: int | None = Field(default=None, alias="BILLFLOW_METRICS_PORT")
    metrics_host: str = Field(default="127.0.0.1", alias="BILLFLOW_METRICS_HOST")

    # Payload encryption (issue 17, docs/encryption.md): key id -> base64 AES-256 key, as JSON; several during a
    # rotation, the active one encrypts. Unset in development: a key generated under data_dir on first start.
    codec_keys: Annotated[dict[str, SecretStr], NoDecode] = Field(default_factory=dict, alias="BILLFLOW_CODEC_KEYS")
    codec_active_key: str | None = Field(default=None, alias="BILLFLOW_CODEC_ACTIVE_KEY")
    # Origins allowed to call the codec server (/codec/encode, /codec/decode) from a browser: the Temporal UI's.
    codec_cors_origins: list[str] = Field(
        default=["http://127.0.0.1:8233", "http://localhost:8233"], alias="BILLFLOW_CODEC_CORS_ORIGINS"
    )

    @field_validator("codec_keys", mode="before")
    @classmethod
    def _codec_keys_json(cls, value: object) -> object:
        """An empty value (the .env template's) is no keys; anything else must be a JSON object of strings."""
        if not isinstance(value, str):
            return value
        if not value.strip():
            return {}
        try:
            parsed = json.loads(value)
        except json.JSONDecodeError:
            parsed = None
        if not isinstance(parsed, dict):
            raise ValueError('must be a JSON object: {"<key id>": "<base64 key>"} (billflow codec generate-key)')
        return parsed

    @field_validator("codec_active_key", mode="before")
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    # Web edges (issue 11): body limits per route, webhook freshness, throttling, what production exposes.
    max_body_bytes: int = Field(default=1024 * 1024, ge=1024, alias="BILLFLOW_MAX_BODY_BYTES")
    # SendGrid posts batches of up to thousands of events (2,500 events are about 1.1 MB).
    sendgrid_max_body_bytes: int = Field(default=8 * 1024 * 1024, ge=1024, alias="BILLFLOW_SENDGRID_MAX_BODY_BYTES")
    # A SendGrid delivery signed longer ago (or further ahead) than this is refused as a replay, as Stripe's 300 s.
    sendgrid_event_tolerance_seconds: int = Field(default=300, ge=1, alias="SENDGRID_EVENT_TOLERANCE")
    # Failed authentications and unknown page tokens per client address (`limits` notation); "" turns it off.
    auth_failure_limit: str = Field(default="20/minute", alias="BILLFLOW_AUTH_FAILURE_LIMIT")
    # /docs, /redoc, /openapi.json and /metrics: unset means on in development, off in production.
    expose_docs: bool | None = Field(default=None, alias="BILLFLOW_EXPOSE_DOCS")
    expose_metrics: bool | None = Field(default=None, alias="BILLFLOW_EXPOSE_METRICS")
    metrics_token: str | None = Field(default=None, alias="BILLFLOW_METRICS_TOKEN")  # set: /metrics needs it

    @property
    def docs_exposed(self) -> bool:
        return self.expose_docs if self.expose_docs is not None else self.env != "production"

    @property
    def metrics_exposed(self) -> bool:
        return self.expose_metrics if self.expose_metrics is not None else self.env != "production"

    @field_validator("auth_failure_limit")
    @classmethod
    def _limit_parses(cls, value: str) -> str:
        # The `limits` notation, checked without importing it (half a second, too slow for every CLI call).
        if value.strip() and not _RATE.fullmatch(value.strip()):
            raise ValueError(f"{value!r} is not a rate like '20/minute', '100 per hour' or '5/10 seconds'")
        return value.strip()

    @property
    def email_reconciliation(self) -> bool:
        """Unsettled emails can be settled only with provider evidence: SendGrid with its signed Event Webhook."""
        return self.email_backend is EmailBackend.sendgrid and bool(self.sendgrid_event_public_key)

    @property
    def json_logs(self) -> bool:
        return self.log_format == "json" or (self.log_format is None and self.env == "production")

    @field_validator("reporting_timezone")
    @classmethod
    def _iana_zone(cls, value: str) -> str:
        from zoneinfo import ZoneInfo

        # "localtime" and file paths name whatever the server is set to: not one rule for the business.
        bad = value in {"localtime", "posixrules", "Factory"} or value.startswith(("/", ".")) or ".." in value
        try:
            if not bad:
                ZoneInfo(value)
        except (ValueError, KeyError):
            bad = True
        if bad:
            raise ValueError(f"BILLFLOW_REPORTING_TIMEZONE must be an IANA time zone name, not {value!r}")
        return value

    @model_validator(mode="after")
    def _business_profile_is_valid(self) -> Settings:
        """A bad VAT id, IBAN or country stops the process at start, not at the first invoice."""
        given = (self.business_vat_id, self.business_iban, self.business_bic, self.business_country)
        if not any(given):  # nothing to check: skip importing the validators (CLI start-up time)
            return self
        from billflow.services.business_profile import current_business_profile

        current_business_profile(self)
        return self

    @model_validator(mode="after")
    def _production_has_its_secrets(self) -> Settings:
        if self.env != "production":
            return self
        # The demo backends move no money and send no mail: in production they would mark invoices paid for
        # anyone holding a pay link, and keep every invoice email in a table nobody reads.
        if self.payment_backend is PaymentBackend.local:
            raise ValueError(
                "BILLFLOW_ENV=production refuses BILLFLOW_PAYMENT_BACKEND=local (the demo pay page: no money moves); "
                "set BILLFLOW_PAYMENT_BACKEND=stripe"
            )
        if self.email_backend is EmailBackend.outbox:
            raise ValueError(
                "BILLFLOW_ENV=production refuses BILLFLOW_EMAIL_BACKEND=outbox (emails are stored, never sent); "
                "set BILLFLOW_EMAIL_BACKEND=sendgrid or smtp"
            )
        required: dict[str, object] = {"DATABASE_URL": self.database_url, "BILLFLOW_CODEC_KEYS": self.codec_keys}
        required |= {"STRIPE_API_KEY": self.stripe_api_key, "STRIPE_WEBHOOK_SECRET": self.stripe_webhook_secret}
        if self.email_backend is EmailBackend.sendgrid:
            required["SENDGRID_API_KEY"] = self.sendgrid_api_key
        missing = sorted(name for name, value in required.items() if not value)
        if missing:
            raise ValueError(f"BILLFLOW_ENV=production needs {', '.join(missing)} (no defaults in production)")
        return self


@lru_cache
def get_settings() -> Settings:
    return Settings()
