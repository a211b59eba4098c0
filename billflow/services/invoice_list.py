"""The staff app's invoice list (search, filters, sorting, keyset pages), and hand-made invoices."""

from __future__ import annotations

import asyncio
from datetime import date
from typing import Any

from pydantic import BaseModel
from temporalio.client import Client

from billflow.db import Database
from billflow.repositories import invoice_search
from billflow.repositories.invoices import InvoiceFilter
from billflow.services import clients as clients_service
from billflow.services import invoice_runs
from billflow.services.invoice_views import InvoiceSummary
from models.workflow_io import BookingIn, InvoiceState

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


async def create_by_hand(
    db: Database, temporal: Client, booking: BookingIn, *, task_queue: str, wait_seconds: float = 10
) -> InvoiceState | None:
    """Start a hand-made invoice like any booking (client settings applied; idempotent by its booking id) and
    wait briefly until the workflow has issued it; None when it is still being issued."""
    async with db.session() as session:
        handle = await clients_service.start_client_invoice(session, temporal, booking, task_queue=task_queue)
    for _ in range(int(wait_seconds / 0.1)):
        state = await invoice_runs.query_state(temporal, handle.id)
        if state is not None:
            return state
        await asyncio.sleep(0.1)
    return None
