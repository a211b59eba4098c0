"""The staff app's invoice list (search, filters, sorting, keyset pages), and hand-made invoices."""

from __future__ import annotations

from datetime import date
from typing import Any

from pydantic import BaseModel

from billflow.config import Settings
from billflow.db import Database
from billflow.repositories import invoice_search
from billflow.repositories import invoices as invoices_repo
from billflow.repositories.invoices import InvoiceFilter
from billflow.services import intake
from billflow.services.invoice_views import InvoiceSummary
from models.invoices import Invoice
from models.workflow_io import BookingIn

COUNT_CAP = 10_000
SORTS = tuple(invoice_search.SORTS)


class InvoiceListPage(BaseModel):
    items: list[InvoiceSummary]
    count: int  # at most COUNT_CAP + 1
    count_capped: bool
    next_cursor: str | None


def _cursor_of(invoice: Any, sort: str) -> str:
    column, _ = invoice_search.SORTS[sort]
    value = getattr(invoice, column.key)
    return f"{value.isoformat() if isinstance(value, date) else value}~{invoice.id}"


def parse_cursor(cursor: str | None, sort: str) -> tuple[Any, int] | None:
    """The cursor of a previous page; ValueError when it is not one."""
    if not cursor:
        return None
    raw, _, ident = cursor.rpartition("~")
    column, _ = invoice_search.SORTS[sort]
    value: Any
    if column.key in ("due_date",):
        value = date.fromisoformat(raw)
    elif column.key in ("id", "total_minor"):
        value = int(raw)
    else:
        value = raw[:32]
    return value, int(ident)


async def list_invoices(
    db: Database,
    *,
    where: InvoiceFilter,
    due: invoice_search.DueRange,
    sort: str = "newest",
    cursor: str | None = None,
    limit: int = 25,
) -> InvoiceListPage:
    after = parse_cursor(cursor, sort)
    async with db.session() as session:
        rows, more = await invoice_search.page(session, where=where, due=due, sort=sort, after=after, limit=limit)
        count = await invoice_search.capped_count(session, where=where, due=due, cap=COUNT_CAP)
    return InvoiceListPage(
        items=[InvoiceSummary.of(invoice, client) for invoice, client in rows],
        count=count,
        count_capped=count > COUNT_CAP,
        next_cursor=_cursor_of(rows[-1][0], sort) if more and rows else None,
    )


async def create_by_hand(db: Database, settings: Settings, booking: BookingIn) -> Invoice:
    """Issue a hand-made invoice like any booking, through the one intake (client settings applied; idempotent
    by its booking id): issued with its number when this returns, its run started through the outbox."""
    async with db.session() as session:
        issued = await intake.issue_booking(session, settings, booking)
    return issued.invoice


class InvoiceLinks(BaseModel):
    """Where the staff app links from an invoice: the client's record and the page the client sees."""

    client_external_id: str
    public_path: str  # /i/{token}: the invoice as the client sees it (its PDF at /pdf below it)


async def links(db: Database, *, number: str) -> InvoiceLinks | None:
    async with db.session() as session:
        found = await invoices_repo.get_invoice_with_client(session, number=number)
    if found is None:
        return None
    invoice, client = found
    return InvoiceLinks(client_external_id=client.external_id, public_path=f"/i/{invoice.public_token}")
