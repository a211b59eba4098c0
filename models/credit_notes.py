"""Credit notes: the only way an issued invoice's amount goes down; numbered by their own gap-free series."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Column, Numeric, UniqueConstraint, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlmodel import Field, SQLModel

from models.columns import instant, jsonb, minor_units, owned_workspace_fk, text_enum, workspace_fk
from models.enums import CreditNoteKind, TaxCategory


class CreditNote(SQLModel, table=True):
    __tablename__ = "credit_notes"
    # Numbers are unique within a workspace (issue 13): two businesses may both issue CN-2026-000001.
    __table_args__ = (UniqueConstraint("workspace_id", "number", name="uq_credit_notes_workspace_number"),)

    id: int | None = Field(default=None, primary_key=True)
    workspace_id: int = workspace_fk()  # its invoice's workspace
    number: str = Field(max_length=32, index=True)
    # What caused it ("void:<workflow action>", "refund:<provider reference>", "api:<request key>"): a retry
    # finds the first credit note instead of issuing a second.
    idempotency_key: str = Field(max_length=300, unique=True)
    invoice_id: int = Field(foreign_key="invoices.id", index=True)
    client_id: int = Field(foreign_key="clients.id", index=True)
    kind: str = text_enum(CreditNoteKind.partial)
    reason: str = Field(max_length=500)
    currency: str = Field(max_length=3)
    subtotal_minor: int = minor_units()
    tax_minor: int = minor_units()
    total_minor: int = minor_units()
    tax_breakdown: list[dict[str, Any]] = Field(
        default_factory=list, sa_column=Column(JSONB, nullable=False, server_default=text("'[]'::jsonb"))
    )
    seller: dict[str, Any] = jsonb()
    buyer: dict[str, Any] = jsonb()
    issue_date: date = Field(index=True)
    issued_at: datetime = instant(nullable=False, default_now=True)
    refund_reference: str | None = Field(default=None, max_length=200)  # the payment row of a refund
    created_at: datetime = instant(nullable=False, default_now=True)


class CreditNoteLine(SQLModel, table=True):
    __tablename__ = "credit_note_lines"
    __table_args__ = (UniqueConstraint("credit_note_id", "position"),)

    id: int | None = Field(default=None, primary_key=True)
    workspace_id: int = owned_workspace_fk()
    credit_note_id: int = Field(foreign_key="credit_notes.id", index=True)
    position: int
    description: str = Field(max_length=500)
    quantity: Decimal = Field(sa_column=Column(Numeric(12, 3), nullable=False))
    unit_price_minor: int = minor_units()
    tax_rate_bp: int = 0
    tax_category: str = text_enum(TaxCategory.standard)
    exemption_reason: str | None = Field(default=None, max_length=300)
    subtotal_minor: int = minor_units()
