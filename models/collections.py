"""Collections tables (issue 16): the answers clients send from the invoice page, and the reference rates that
statutory late-payment interest is computed from."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import Index, UniqueConstraint
from sqlmodel import Field, SQLModel

from models.columns import instant, jsonb, owned_workspace_fk


class ClientAnswer(SQLModel, table=True):
    """One row per distinct answer (its id is derived from the content): a double submit stores nothing new, and
    the rows of the last hour are what the per-invoice rate limit counts."""

    __tablename__ = "client_answers"
    __table_args__ = (Index("ix_client_answers_invoice_time", "invoice_id", "created_at"),)

    id: int | None = Field(default=None, primary_key=True)
    workspace_id: int = owned_workspace_fk()
    invoice_id: int = Field(foreign_key="invoices.id")
    answer_id: str = Field(max_length=64, unique=True)
    kind: str = Field(max_length=16)  # transfer, promise, dispute
    payload: dict[str, Any] = jsonb()
    # pending (stored, not yet delivered), signalled (delivered to the workflow), closed (the invoice had settled)
    outcome: str = Field(default="pending", max_length=32)
    created_at: datetime = instant(nullable=False, default_now=True)


class ReferenceRate(SQLModel, table=True):
    """A central-bank reference rate valid over a period (ECB main refinancing rate, BoE base rate, the German
    Basiszinssatz), in basis points (may be negative), with where it was published."""

    __tablename__ = "reference_rates"
    __table_args__ = (UniqueConstraint("rate", "valid_from", name="uq_reference_rates_rate_from"),)

    id: int | None = Field(default=None, primary_key=True)
    rate: str = Field(max_length=32)  # ecb_mro, boe_base, de_basiszins
    valid_from: date
    valid_to: date | None = None  # None: until the next period is entered
    rate_bp: int  # 2.15 % = 215
    source: str = Field(max_length=500)
    created_at: datetime = instant(nullable=False, default_now=True)


class PortalLink(SQLModel, table=True):
    """A magic link to the client portal: only the token's SHA-256 is stored; it expires and can be revoked.

    A link the client asked for on the portal's sign-in page is single-use: opening it marks it used and makes a
    short-lived browsing link (`parent_id` names the emailed one, so revoking that ends both)."""

    __tablename__ = "portal_links"

    id: int | None = Field(default=None, primary_key=True)
    workspace_id: int = owned_workspace_fk()
    client_id: int = Field(foreign_key="clients.id", index=True)
    token_hash: str = Field(max_length=64, unique=True)
    expires_at: datetime = instant(nullable=False)
    revoked_at: datetime | None = instant()
    created_at: datetime = instant(nullable=False, default_now=True)
    single_use: bool = False
    used_at: datetime | None = instant()
    parent_id: int | None = Field(default=None, foreign_key="portal_links.id", index=True)


class PortalLinkRequest(SQLModel, table=True):
    """Every link asked for on the portal's sign-in page, known address or not, counted per address and per
    client IP for the rate limit. The address is kept as its SHA-256 only (most requests may be strangers')."""

    __tablename__ = "portal_link_requests"
    __table_args__ = (
        Index("ix_portal_link_requests_email_at", "email_hash", "at"),
        Index("ix_portal_link_requests_address_at", "address", "at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    email_hash: str = Field(max_length=64)
    address: str = Field(max_length=64)
    at: datetime = instant(nullable=False, default_now=True)
