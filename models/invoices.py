"""Invoices and their lines (numbers come from the workspace's numbering series: models/numbering.py)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Column, Index, Numeric, UniqueConstraint, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlmodel import Field, SQLModel

from models.columns import instant, jsonb, minor_units, owned_workspace_fk, text_enum, workspace_fk
from models.enums import InvoiceKind, InvoiceStatus, TaxCategory

_UNSETTLED = "status IN ('open', 'partially_paid', 'overdue', 'processing', 'disputed')"


class Invoice(SQLModel, table=True):
    __tablename__ = "invoices"
    __table_args__ = (
        # Aging, top overdue clients and the dashboard read only unsettled invoices (a small share of all of
        # them) by due date: a partial index keeps them one short range scan away, whatever the history size.
        # Its included columns make those scans index-only, and the staff list's count of overdue invoices too.
        Index(
            "ix_invoices_unsettled_due",
            "due_date",
            "id",
            postgresql_where=text("status IN ('open', 'partially_paid', 'overdue', 'processing', 'disputed')"),
            postgresql_include=[
                "client_id",
                "currency",
                "total_minor",
                "amount_paid_minor",
                "issue_date",
                "status",
                "credited_minor",
            ],
        ),
        # The receivable as of a day (aging, DSO, top overdue: billflow/repositories/reports.py) reads every
        # unsettled invoice issued before the cutoff with its balance and due instant: index-only from here.
        Index(
            "ix_invoices_receivable_cover",
            "issued_at",
            postgresql_where=text("status IN ('open', 'partially_paid', 'overdue', 'processing', 'disputed')"),
            postgresql_include=[
                "id",
                "client_id",
                "currency",
                "due_at",
                "total_minor",
                "credited_minor",
                "amount_paid_minor",
            ],
        ),
        # The staff app's invoice list filtered by currency (and a due range), in due-date order.
        Index("ix_invoices_currency_due_id", "currency", "due_date", "id"),
        # Aging as of a past date also counts invoices voided or written off since: few rows, found directly.
        Index(
            "ix_invoices_closed_at",
            text("COALESCE(voided_at, written_off_at)"),
            postgresql_where=text("status IN ('void', 'uncollectible')"),
        ),
        # Reminder effectiveness joins reminders to the invoices paid since its window opened: an index-only
        # range instead of a scan of every invoice.
        Index(
            "ix_invoices_paid_at", "paid_at", postgresql_include=["id"], postgresql_where=text("paid_at IS NOT NULL")
        ),
        # DSO sums the totals invoiced in a period: an index-only scan over issue dates, no heap visits.
        # issued_at too: the sales of a period are decided by the issue instant (issue 15: index-only again).
        Index(
            "ix_invoices_issue_date_cover",
            "issue_date",
            postgresql_include=["currency", "total_minor", "status", "issued_at"],
        ),
        # The staff app's invoice list pages by keyset in these orders (sort value, then id): one index range
        # per page, however deep, instead of sorting every invoice.
        Index("ix_invoices_due_date_id", "due_date", "id"),
        Index("ix_invoices_total_id", "total_minor", "id"),
        # Numbers are unique within a workspace (issue 13): two businesses may both issue INV-2026-000001.
        UniqueConstraint("workspace_id", "number", name="uq_invoices_workspace_number"),
        # The report indexes above, led by the workspace: one workspace's reports read its own range only
        # (bench/reports.py --workspaces 100). The unled ones stay for the sweeps over every workspace.
        Index(
            "ix_invoices_ws_unsettled_due",
            "workspace_id",
            "due_date",
            "id",
            postgresql_where=text(_UNSETTLED),
            postgresql_include=[
                "client_id",
                "currency",
                "total_minor",
                "amount_paid_minor",
                "issue_date",
                "status",
                "credited_minor",
            ],
        ),
        Index(
            "ix_invoices_ws_receivable_cover",
            "workspace_id",
            "issued_at",
            postgresql_where=text(_UNSETTLED),
            postgresql_include=[
                "id",
                "client_id",
                "currency",
                "due_at",
                "total_minor",
                "credited_minor",
                "amount_paid_minor",
            ],
        ),
        Index(
            "ix_invoices_ws_issue_date_cover",
            "workspace_id",
            "issue_date",
            postgresql_include=["currency", "total_minor", "status", "issued_at"],
        ),
        # A workspace's invoice list, newest first, its count and its search by number or client: one range of
        # this index, without visiting the invoices themselves.
        Index("ix_invoices_ws_id", "workspace_id", "id", postgresql_include=["client_id", "number"]),
        Index(
            "ix_invoices_ws_paid_at",
            "workspace_id",
            "paid_at",
            postgresql_include=["id"],
            postgresql_where=text("paid_at IS NOT NULL"),
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    workspace_id: int = workspace_fk()
    number: str = Field(max_length=32, index=True)  # unique per workspace: uq_invoices_workspace_number
    # Business key of the source event ("booking:<source>:<id>"): a second start creates nothing.
    source_key: str = Field(max_length=300, unique=True)
    workflow_id: str = Field(max_length=300, unique=True)
    client_id: int = Field(foreign_key="clients.id", index=True)
    currency: str = Field(max_length=3)
    subtotal_minor: int = minor_units()
    tax_minor: int = minor_units()
    total_minor: int = minor_units()
    amount_paid_minor: int = minor_units()
    status: str = text_enum(InvoiceStatus.open, index=True)
    issue_date: date
    due_date: date = Field(index=True)
    issued_at: datetime = instant(nullable=False, default_now=True)
    due_at: datetime = instant(nullable=False)
    timezone: str = Field(max_length=64)
    payment_url: str | None = Field(default=None, max_length=500)
    public_token: str = Field(max_length=64, unique=True)
    viewed_at: datetime | None = instant()
    paid_at: datetime | None = instant()
    voided_at: datetime | None = instant()
    written_off_at: datetime | None = instant()
    overdue_at: datetime | None = instant()
    escalated_at: datetime | None = instant()
    reminders_paused: bool = False
    paused_until: datetime | None = instant()
    service_date: date | None = None
    period_start: date | None = None
    period_end: date | None = None
    subscription_id: str | None = Field(default=None, max_length=200, index=True)
    memo: str | None = Field(default=None, max_length=2000)
    # Late-payment interest terms from the booking (models.workflow_io.LateInterestTerms), if any.
    interest_terms: dict[str, Any] | None = Field(default=None, sa_column=Column(JSONB, nullable=True))
    created_at: datetime = instant(nullable=False, default_now=True)
    updated_at: datetime = instant(nullable=False, default_now=True)

    # --- documents (issue 14). Content columns are frozen by a trigger (migration c1d2e3f4a514). ---
    kind: str = text_enum(InvoiceKind.invoice)
    # Seller and buyer as printed (models.documents.Party), the VAT breakdown (TaxBreakdown rows) and the bank
    # account: snapshots taken at issue, so a later edit of the profile or the client changes no issued invoice.
    seller: dict[str, Any] = jsonb()
    buyer: dict[str, Any] = jsonb()
    tax_breakdown: list[dict[str, Any]] = Field(
        default_factory=list, sa_column=Column(JSONB, nullable=False, server_default=text("'[]'::jsonb"))
    )
    payment_means: dict[str, Any] = jsonb()
    # A final invoice deducts its deposit invoice; a deposit invoice keeps the booking the final one is made from.
    deposit_invoice_id: int | None = Field(default=None, foreign_key="invoices.id")
    booking: dict[str, Any] | None = Field(default=None, sa_column=Column(JSONB, nullable=True))
    # Sum of the credit notes issued against it (not content: it grows with each credit note).
    credited_minor: int = minor_units()

    @property
    def balance_minor(self) -> int:
        return self.total_minor - self.credited_minor - self.amount_paid_minor


class InvoiceLine(SQLModel, table=True):
    __tablename__ = "invoice_lines"
    __table_args__ = (UniqueConstraint("invoice_id", "position"),)

    id: int | None = Field(default=None, primary_key=True)
    workspace_id: int = owned_workspace_fk()
    invoice_id: int = Field(foreign_key="invoices.id", index=True)
    position: int
    description: str = Field(max_length=500)
    quantity: Decimal = Field(sa_column=Column(Numeric(12, 3), nullable=False))
    unit_price_minor: int = minor_units()
    tax_rate_bp: int = 0  # basis points: 2000 = 20 %
    subtotal_minor: int = minor_units()
    tax_minor: int = minor_units()
    total_minor: int = minor_units()
    # --- documents (issue 14) ---
    tax_category: str = text_enum(TaxCategory.standard)
    exemption_reason: str | None = Field(default=None, max_length=300)
