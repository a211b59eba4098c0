"""The seller's business profile as edited in the staff app (Settings > Business profile).

One row per workspace key ("default" until workspaces exist, issue 13); absent: the BILLFLOW_BUSINESS_*
settings apply. `BusinessProfileIn` is the validated form of it, shared by the page, the service and tests.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from pydantic import BaseModel, EmailStr, Field, field_validator
from sqlalchemy import Column, LargeBinary
from sqlmodel import Field as column
from sqlmodel import SQLModel

from models.columns import instant
from models.documents import check_country, check_vat_id
from models.money import CurrencyCode

DEFAULT_WORKSPACE = "default"
LOGO_MAX_BYTES = 512 * 1024
LOGO_TYPES = {b"\x89PNG\r\n\x1a\n": "image/png", b"\xff\xd8\xff": "image/jpeg"}


class BusinessProfileRow(SQLModel, table=True):
    __tablename__ = "business_profiles"

    id: int | None = column(default=None, primary_key=True)
    workspace: str = column(default=DEFAULT_WORKSPACE, max_length=64, unique=True)
    legal_name: str = column(max_length=200)
    address_line1: str | None = column(default=None, max_length=200)
    postcode: str | None = column(default=None, max_length=20)
    city: str | None = column(default=None, max_length=100)
    country: str | None = column(default=None, max_length=2)
    vat_id: str | None = column(default=None, max_length=20)
    iban: str | None = column(default=None, max_length=34)
    bic: str | None = column(default=None, max_length=11)
    sender_name: str = column(max_length=200)
    reply_to: str | None = column(default=None, max_length=254)
    default_currency: str = column(default="EUR", max_length=3)
    reporting_timezone: str = column(default="UTC", max_length=64)
    payment_terms_days: int = 14
    invoice_footer: str | None = column(default=None, max_length=1000)
    logo: bytes | None = column(default=None, sa_column=Column(LargeBinary, nullable=True))
    logo_type: str | None = column(default=None, max_length=20)
    updated_at: datetime = instant(nullable=False, default_now=True)
    updated_by: str | None = column(default=None, max_length=254)


def _blank_is_none(value: object) -> object:
    return None if isinstance(value, str) and not value.strip() else value.strip() if isinstance(value, str) else value


class BusinessProfileIn(BaseModel):
    """What an admin may set; each check names its field (the page shows the error next to it)."""

    legal_name: str = Field(min_length=1, max_length=200)
    address_line1: str | None = Field(default=None, max_length=200)
    postcode: str | None = Field(default=None, max_length=20)
    city: str | None = Field(default=None, max_length=100)
    country: str | None = None
    vat_id: str | None = None
    iban: str | None = None
    bic: str | None = None
    sender_name: str = Field(min_length=1, max_length=200)
    reply_to: EmailStr | None = None
    default_currency: CurrencyCode = "EUR"
    reporting_timezone: str = "UTC"
    payment_terms_days: int = Field(default=14, ge=0, le=366)
    invoice_footer: str | None = Field(default=None, max_length=1000)

    @field_validator("*", mode="before")
    @classmethod
    def _strip(cls, value: object) -> object:
        return _blank_is_none(value)

    @field_validator("country")
    @classmethod
    def _country(cls, value: str | None) -> str | None:
        return check_country(value) if value else None

    @field_validator("vat_id")
    @classmethod
    def _vat_id(cls, value: str | None) -> str | None:
        return check_vat_id(value) if value else None

    @field_validator("iban")
    @classmethod
    def _iban(cls, value: str | None) -> str | None:
        from schwifty import IBAN
        from schwifty.exceptions import SchwiftyException

        try:
            return IBAN(value).compact if value else None
        except SchwiftyException as err:
            raise ValueError(f"not a valid IBAN ({err})") from err

    @field_validator("bic")
    @classmethod
    def _bic(cls, value: str | None) -> str | None:
        from schwifty import BIC
        from schwifty.exceptions import SchwiftyException

        try:
            return BIC(value).compact if value else None
        except SchwiftyException as err:
            raise ValueError(f"not a valid BIC ({err})") from err

    @field_validator("reporting_timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        from models.time_zones import check_time_zone

        return check_time_zone(value)

    @property
    def payment_terms(self) -> timedelta:
        return timedelta(days=self.payment_terms_days)


def logo_type(content: bytes) -> str:
    """The logo's media type (PNG or JPEG, by its magic bytes); ValueError otherwise."""
    if len(content) > LOGO_MAX_BYTES:
        raise ValueError(f"at most {LOGO_MAX_BYTES // 1024} KB")
    for magic, media in LOGO_TYPES.items():
        if content.startswith(magic):
            return media
    raise ValueError("a PNG or JPEG image")
