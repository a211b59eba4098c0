"""Clients: upserted from the booking system's external id."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, String
from sqlmodel import Field, SQLModel

from models.columns import instant
from models.einvoice import DocumentFormat


class Client(SQLModel, table=True):
    __tablename__ = "clients"

    id: int | None = Field(default=None, primary_key=True)
    external_id: str = Field(max_length=200, unique=True, index=True)
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
