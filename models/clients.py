"""Clients: one per (source, external id), upserted from the bookings of that source (models/client_sources)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DDL, Column, Index, String, UniqueConstraint, event, text
from sqlmodel import Field, SQLModel

from models.client_sources import SOURCE_MAX, STAFF_SOURCE
from models.columns import instant, text_enum
from models.einvoice import DocumentFormat
from models.enums import BuyerKind


class Client(SQLModel, table=True):
    __tablename__ = "clients"
    __table_args__ = (
        UniqueConstraint("source", "external_id", name="uq_clients_source_external_id"),
        # The staff app's client list pages by name (issue 15: under 300 ms at 1M invoices, 50k clients).
        Index("ix_clients_name_id", "name", "id"),
        # Searches match a substring of the name, email or external id (ILIKE '%text%'): trigram indexes answer
        # them without reading every client (pg_trgm, created with the index: see the DDL below).
        *(
            Index(f"ix_clients_{name}_trgm", name, postgresql_using="gin", postgresql_ops={name: "gin_trgm_ops"})
            for name in ("name", "email", "external_id")
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    # "staff" or "integration:{name}"; rows written without one (raw SQL, old code) are staff's.
    source: str = Field(
        default=STAFF_SOURCE,
        sa_column=Column(String(SOURCE_MAX), nullable=False, server_default=text(f"'{STAFF_SOURCE}'")),
    )
    external_id: str = Field(max_length=200, index=True)
    name: str = Field(max_length=200)
    email: str = Field(max_length=320, index=True)
    timezone: str = Field(default="UTC", max_length=64)
    email_bounced: bool = False
    # E-invoicing (issue 14): the format the issue email carries, and the buyer reference (BT-10; for German
    # public buyers the Leitweg-ID) that XRechnung requires.
    # A server default too: bulk inserts (upserts, benchmarks) that name no format get the PDF.
    einvoice_format: str = Field(
        default=DocumentFormat.pdf.value,
        sa_column=Column(String(20), nullable=False, server_default=DocumentFormat.pdf.value),
    )
    buyer_reference: str | None = Field(default=None, max_length=100)
    created_at: datetime = instant(nullable=False, default_now=True)
    updated_at: datetime = instant(nullable=False, default_now=True)

    # --- billing details (issue 14): the buyer block of every document, snapshotted onto each invoice ---
    kind: str = text_enum(BuyerKind.consumer)  # business or consumer
    address_line1: str | None = Field(default=None, max_length=200)
    postcode: str | None = Field(default=None, max_length=20)
    city: str | None = Field(default=None, max_length=100)
    country: str | None = Field(default=None, max_length=2)  # ISO 3166-1 alpha-2
    vat_id: str | None = Field(default=None, max_length=20)


# A database made by metadata.create_all (tests, the adoption path) needs the extension before the trigram indexes;
# migrations create it in 0a1b2c3d4e21. pg_trgm is a trusted extension: a database owner may create it.
_TRGM = DDL("CREATE EXTENSION IF NOT EXISTS pg_trgm")
event.listen(Client.__table__, "before_create", _TRGM)  # type: ignore[attr-defined]
