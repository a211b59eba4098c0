"""billflow's own service catalog: what a booked event type costs.

A Cal.com event type (its slug, e.g. "60min", or its numeric id) maps to a service name, a unit price in minor
units, a currency and a tax rate. Cal.com's own price is only the fallback.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field, field_validator
from sqlalchemy import UniqueConstraint
from sqlmodel import Field as column
from sqlmodel import SQLModel

from models.columns import instant, minor_units, workspace_fk
from models.money import CurrencyCode, MinorAmount

EVENT_TYPE_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,119}$"


class ServiceCatalogEntry(SQLModel, table=True):
    __tablename__ = "service_catalog"
    # Each workspace prices its own event types (issue 13).
    __table_args__ = (UniqueConstraint("workspace_id", "event_type", name="uq_service_catalog_workspace_event_type"),)

    id: int | None = column(default=None, primary_key=True)
    workspace_id: int = workspace_fk()
    # An event type slug ("60min") or an event type id written as digits ("7").
    event_type: str = column(max_length=120)
    service_name: str = column(max_length=500)
    unit_price_minor: int = minor_units()
    currency: str = column(max_length=3)
    tax_rate_bp: int = 0
    created_at: datetime = instant(nullable=False, default_now=True)
    updated_at: datetime = instant(nullable=False, default_now=True)


class CatalogEntryIn(BaseModel):
    event_type: str = Field(
        pattern=EVENT_TYPE_PATTERN, description="Cal.com event type slug (e.g. `60min`) or numeric id (e.g. `7`)"
    )
    service_name: str = Field(min_length=1, max_length=500, examples=["Deep-tissue massage, 60 min"])
    unit_price_minor: MinorAmount = Field(examples=[9000])
    currency: CurrencyCode = Field(examples=["GBP"])
    tax_rate_bp: int = Field(default=0, ge=0, le=10_000, description="basis points: 2000 = 20 %")

    @field_validator("service_name")
    @classmethod
    def _no_nul(cls, value: str) -> str:
        if "\x00" in value:  # PostgreSQL text cannot hold NUL
            raise ValueError("NUL characters are not allowed")
        return value


class CatalogEntryOut(CatalogEntryIn):
    created_at: datetime
    updated_at: datetime
