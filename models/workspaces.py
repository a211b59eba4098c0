"""Workspaces (issue 13): the businesses one installation serves, each with its legal profile.

Every client, invoice, payment, subscription, API key and integration belongs to exactly one workspace
(`workspace_id`). The installation's first workspace (id 1) holds what existed before workspaces: the Alembic
migration 0a1b2c3d4e25 made the BILLFLOW_BUSINESS_* settings its profile.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, EmailStr, Field, SecretStr, field_validator
from sqlalchemy import Column, LargeBinary, String
from sqlalchemy.dialects.postgresql import JSONB
from sqlmodel import Field as SQLField
from sqlmodel import SQLModel

from models.columns import DEFAULT_WORKSPACE_ID as DEFAULT_WORKSPACE_ID
from models.columns import instant
from models.documents import check_country, check_vat_id
from models.money import CurrencyCode
from models.workflow_io import ReminderPolicy
from models.workspace_views import WorkspaceOut as WorkspaceOut

SLUG = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,38}[a-z0-9])?$")
MAX_LOGO_BYTES = 512 * 1024
_LOGO_TYPES = {b"\x89PNG\r\n\x1a\n": "image/png", b"\xff\xd8\xff": "image/jpeg"}


def logo_type(content: bytes) -> str:
    """The logo's media type (PNG or JPEG, by its magic bytes); ValueError otherwise."""
    if len(content) > MAX_LOGO_BYTES:
        raise ValueError(f"at most {MAX_LOGO_BYTES // 1024} KB")
    for magic, media_type in _LOGO_TYPES.items():
        if content.startswith(magic):
            return media_type
    raise ValueError("must be a PNG or JPEG image")


def _iban(value: str) -> str:
    from schwifty import IBAN  # its bank registry loads on first use: only when an IBAN is given
    from schwifty.exceptions import SchwiftyException

    try:
        return str(IBAN(value).compact)
    except SchwiftyException as err:
        raise ValueError(f"{value!r} is not a valid IBAN ({err})") from err


def _bic(value: str) -> str:
    from schwifty import BIC
    from schwifty.exceptions import SchwiftyException

    try:
        return str(BIC(value).compact)
    except SchwiftyException as err:
        raise ValueError(f"{value!r} is not a valid BIC ({err})") from err


def _locale(value: str) -> str:
    from babel import Locale, UnknownLocaleError

    try:
        return str(Locale.parse(value.replace("-", "_")))
    except (ValueError, UnknownLocaleError) as err:
        raise ValueError(f"{value!r} is not a known locale (like en_GB or de_DE)") from err


def _zone(value: str) -> str:
    from zoneinfo import ZoneInfo

    # As BILLFLOW_REPORTING_TIMEZONE: "localtime" and paths name the server's setting, not the business's.
    bad = value in {"localtime", "posixrules", "Factory"} or value.startswith(("/", ".")) or ".." in value
    try:
        if not bad:
            ZoneInfo(value)
    except (ValueError, KeyError):
        bad = True
    if bad:
        raise ValueError(f"{value!r} is not an IANA time zone name")
    return value


def _slug(value: str) -> str:
    if not SLUG.fullmatch(value):
        raise ValueError("1-40 lowercase letters, digits and inner hyphens, like acme-studio")
    return value


Slug = Annotated[str, AfterValidator(_slug)]
Country = Annotated[str, AfterValidator(check_country)]
VatId = Annotated[str, AfterValidator(check_vat_id)]
Iban = Annotated[str, AfterValidator(_iban)]
Bic = Annotated[str, AfterValidator(_bic)]
LocaleCode = Annotated[str, Field(max_length=20), AfterValidator(_locale)]
ZoneName = Annotated[str, Field(max_length=64), AfterValidator(_zone)]
Line = Annotated[str, Field(min_length=1, max_length=200)]
# A Stripe account id as Stripe spells them (acct_ and letters/digits).
StripeAccount = Annotated[str, Field(pattern=r"^acct_[A-Za-z0-9]{1,120}$", max_length=255)]
_STRIPE_SECRET_KEY = re.compile(r"^(sk|rk)_(test|live)_[A-Za-z0-9]{8,247}$")
_STRIPE_WEBHOOK_SECRET = re.compile(r"^whsec_[A-Za-z0-9+/=]{8,250}$")
# The columns and API fields of a workspace's own Stripe keys (never shown: WorkspaceOut masks them).
OWN_STRIPE_FIELDS = ("stripe_secret_key", "stripe_webhook_secret")


def _secret_key(value: SecretStr) -> SecretStr:
    # The message never repeats the value: it is a secret even when malformed.
    if not _STRIPE_SECRET_KEY.fullmatch(value.get_secret_value()):
        raise ValueError("must be a Stripe secret or restricted key (sk_live_..., sk_test_..., rk_live_...)")
    return value


def _webhook_secret(value: SecretStr) -> SecretStr:
    if not _STRIPE_WEBHOOK_SECRET.fullmatch(value.get_secret_value()):
        raise ValueError("must be a Stripe webhook signing secret (whsec_...)")
    return value


StripeSecretKey = Annotated[SecretStr, AfterValidator(_secret_key)]
StripeWebhookSecret = Annotated[SecretStr, AfterValidator(_webhook_secret)]


class WorkspaceProfileFields(BaseModel):
    """The profile a workspace's documents, emails and reports read; every field optional (an update)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: Line | None = Field(default=None, description="the trading name printed and shown to staff")
    legal_name: Line | None = None
    address_line1: Line | None = None
    postcode: Annotated[str, Field(min_length=1, max_length=20)] | None = None
    city: Annotated[str, Field(min_length=1, max_length=100)] | None = None
    country: Country | None = Field(default=None, description="ISO 3166-1 alpha-2")
    vat_id: VatId | None = Field(default=None, description="EU VAT id, checked by python-stdnum")
    registration: Line | None = Field(default=None, description="company registration (court and number)")
    iban: Iban | None = Field(default=None, description="checked by schwifty")
    bic: Bic | None = None
    sender_name: Line | None = Field(default=None, description="the From name on the workspace's emails")
    sender_email: EmailStr | None = Field(
        default=None, description="the From address of its emails (a sender verified with the email provider)"
    )
    reply_to: EmailStr | None = None
    stripe_account: StripeAccount | None = Field(
        default=None, description="its Stripe Connect account (acct_...): sessions and refunds are made on it"
    )
    stripe_secret_key: StripeSecretKey | None = Field(
        default=None,
        description="its own Stripe account's secret key, instead of a connected account: its sessions, refunds "
        "and reconciliation use it; stored encrypted, shown masked; give stripe_webhook_secret with it",
    )
    stripe_webhook_secret: StripeWebhookSecret | None = Field(
        default=None,
        description="the signing secret of its own endpoint /webhooks/stripe/w/{workspace id}; stored encrypted",
    )
    default_currency: CurrencyCode | None = None
    locale: LocaleCode | None = None
    reporting_timezone: ZoneName | None = Field(default=None, description="IANA zone: 'today' for reports")
    payment_terms_days: int | None = Field(default=None, ge=0, le=366)
    reminder_policy: ReminderPolicy | None = Field(default=None, description="omit: the standard policy")
    invoice_footer: Annotated[str, Field(max_length=1000)] | None = None

    @field_validator(
        "vat_id", "iban", "bic", "country", "stripe_account", "sender_email", *OWN_STRIPE_FIELDS, mode="before"
    )
    @classmethod
    def _blank_is_unset(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value


class WorkspaceCreate(WorkspaceProfileFields):
    slug: Slug = Field(description="the workspace's handle in the CLI and URLs")
    name: Line = Field(description="the trading name printed and shown to staff")
    default_currency: CurrencyCode = "EUR"
    locale: LocaleCode = "en_US"
    reporting_timezone: ZoneName = "UTC"
    payment_terms_days: int = Field(default=14, ge=0, le=366)


class WorkspaceUpdate(WorkspaceProfileFields):
    """Only the fields given change; `null` clears an optional one."""


# Fields a workspace must always have: an update may change them, never clear them.
REQUIRED_FIELDS = frozenset({"name", "default_currency", "locale", "reporting_timezone", "payment_terms_days"})


class Workspace(SQLModel, table=True):
    __tablename__ = "workspaces"

    id: int | None = SQLField(default=None, primary_key=True)
    slug: str = SQLField(max_length=40, unique=True)
    name: str = SQLField(max_length=200)
    legal_name: str | None = SQLField(default=None, max_length=200)
    address_line1: str | None = SQLField(default=None, max_length=200)
    postcode: str | None = SQLField(default=None, max_length=20)
    city: str | None = SQLField(default=None, max_length=100)
    country: str | None = SQLField(default=None, max_length=2)
    vat_id: str | None = SQLField(default=None, max_length=20)
    registration: str | None = SQLField(default=None, max_length=200)
    iban: str | None = SQLField(default=None, max_length=34)
    bic: str | None = SQLField(default=None, max_length=11)
    # The logo printed on documents: stored here, so every API and worker process reads the same one.
    logo: bytes | None = SQLField(default=None, sa_column=Column(LargeBinary, nullable=True))
    logo_type: str | None = SQLField(default=None, sa_column=Column(String(20), nullable=True))
    sender_name: str | None = SQLField(default=None, max_length=200)
    sender_email: str | None = SQLField(default=None, max_length=320)  # None: the installation's from address
    reply_to: str | None = SQLField(default=None, max_length=320)
    # Its Stripe Connect account (None: the installation's own Stripe account, its keys the default).
    stripe_account_id: str | None = SQLField(default=None, max_length=255, unique=True)
    # Or its own Stripe account's keys (billflow/secret_box.py: sealed, bound to this workspace and column), and
    # what is shown of them (`sk_live_...a1B2`).
    stripe_secret_key_sealed: str | None = SQLField(default=None, max_length=1000)
    stripe_secret_key_hint: str | None = SQLField(default=None, max_length=40)
    stripe_webhook_secret_sealed: str | None = SQLField(default=None, max_length=1000)
    stripe_webhook_secret_hint: str | None = SQLField(default=None, max_length=40)
    default_currency: str = SQLField(default="EUR", max_length=3)
    locale: str = SQLField(default="en_US", max_length=20)
    reporting_timezone: str = SQLField(default="UTC", max_length=64)
    payment_terms_days: int = 14
    # The workspace's default reminder policy (a ReminderPolicy as JSON); null: the standard one.
    reminder_policy: dict[str, Any] | None = SQLField(default=None, sa_column=Column(JSONB, nullable=True))
    invoice_footer: str | None = SQLField(default=None, max_length=1000)
    created_at: datetime = instant(nullable=False, default_now=True)
    updated_at: datetime = instant(nullable=False, default_now=True)

    @property
    def payment_terms(self) -> timedelta:
        return timedelta(days=self.payment_terms_days)

    def policy(self) -> ReminderPolicy:
        if self.reminder_policy is None:
            return ReminderPolicy.standard()
        return ReminderPolicy.model_validate(self.reminder_policy)
