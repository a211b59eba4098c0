"""The staff app's invoice list: the API's filters plus a due-date range, several sort orders, keyset pages
(a page deep in a million invoices costs what the first one does) and a capped count."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import func, tuple_
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from billflow.repositories.invoices import InvoiceFilter, _filtered
from models.clients import Client
from models.invoices import Invoice

# name -> (column, descending)
SORTS: dict[str, tuple[Any, bool]] = {
    "newest": (Invoice.id, True),
    "due": (Invoice.due_date, False),
    "due_desc": (Invoice.due_date, True),
    "total_desc": (Invoice.total_minor, True),
    "number": (Invoice.number, False),
}


@dataclass(frozen=True)
class DueRange:
    due_from: date | None = None
    due_to: date | None = None


def _query(base: Any, where: InvoiceFilter, due: DueRange) -> Any:
    query = _filtered(base, where)  # the API's filters, defined once
    if due.due_from is not None:
        query = query.where(col(Invoice.due_date) >= due.due_from)
    if due.due_to is not None:
        query = query.where(col(Invoice.due_date) <= due.due_to)
    return query


async def page(
    session: AsyncSession,
    *,
    where: InvoiceFilter,
    due: DueRange,
    sort: str,
    after: tuple[Any, int] | None,
    limit: int,
) -> tuple[Sequence[tuple[Invoice, Client]], bool]:
    """One page after the cursor (sort value, invoice id); True when more follow."""
    column, descending = SORTS[sort]
    query = _query(select(Invoice, Client).join(Client, col(Client.id) == col(Invoice.client_id)), where, due)
    if after is not None:
        key = tuple_(column, Invoice.id)
        query = query.where(key < tuple_(*after) if descending else key > tuple_(*after))
    order = (col(column).desc(), col(Invoice.id).desc()) if descending else (col(column).asc(), col(Invoice.id).asc())
    rows = (await session.exec(query.order_by(*order).limit(limit + 1))).all()
    return rows[:limit], len(rows) > limit


async def capped_count(session: AsyncSession, *, where: InvoiceFilter, due: DueRange, cap: int) -> int:
    """How many match, counting at most `cap` (the page says "10,000+" rather than scanning a million rows)."""
    inner = _query(select(col(Invoice.id)).join(Client, col(Client.id) == col(Invoice.client_id)), where, due).limit(
        cap + 1
    )
    return int((await session.exec(select(func.count()).select_from(inner.subquery()))).one())
