"""The one place that reads the environment (and .env)."""

from __future__ import annotations

from enum import StrEnum
from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class PaymentBackend(StrEnum):
    local = "local"  # billflow's own pay page; zero setup
    stripe = "stripe"


class EmailBackend(StrEnum):
    outbox = "outbox"  # rendered mail is stored in the database and printable; zero setup
    sendgrid = "sendgrid"
    smtp = "smtp"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", env_prefix="", extra="ignore")

    # Where billflow keeps embedded PostgreSQL, the dev server's SQLite file and the outbox.
    data_dir: Path = Field(default=Path(".billflow"), alias="BILLFLOW_DATA_DIR")
    # Unset: billflow starts the embedded PostgreSQL server under data_dir.
    database_url: str | None = Field(default=None, alias="DATABASE_URL")

    temporal_address: str = Field(default="127.0.0.1:7233", alias="TEMPORAL_ADDRESS")
    temporal_namespace: str = Field(default="default", alias="TEMPORAL_NAMESPACE")
    task_queue: str = Field(default="billflow", alias="BILLFLOW_TASK_QUEUE")

    public_base_url: str = Field(default="http://127.0.0.1:8000", alias="BILLFLOW_PUBLIC_URL")
    api_host: str = Field(default="127.0.0.1", alias="BILLFLOW_API_HOST")
    api_port: int = Field(default=8000, alias="BILLFLOW_API_PORT")

    business_name: str = Field(default="billflow demo studio", alias="BILLFLOW_BUSINESS_NAME")
    staff_email: str = Field(default="billing@example.com", alias="BILLFLOW_STAFF_EMAIL")
    from_email: str = Field(default="invoices@example.com", alias="BILLFLOW_FROM_EMAIL")

    payment_backend: PaymentBackend = Field(default=PaymentBackend.local, alias="BILLFLOW_PAYMENT_BACKEND")
    email_backend: EmailBackend = Field(default=EmailBackend.outbox, alias="BILLFLOW_EMAIL_BACKEND")

    stripe_api_key: str | None = Field(default=None, alias="STRIPE_API_KEY")
    stripe_webhook_secret: str | None = Field(default=None, alias="STRIPE_WEBHOOK_SECRET")
    stripe_api_base: str | None = Field(default=None, alias="STRIPE_API_BASE")
    sendgrid_api_key: str | None = Field(default=None, alias="SENDGRID_API_KEY")
    sendgrid_api_host: str | None = Field(default=None, alias="SENDGRID_API_HOST")


@lru_cache
def get_settings() -> Settings:
    return Settings()
