"""The staff app's invoice list: the API's filters plus a due-date range, several sort orders, keyset pages
(a page deep in a million invoices costs what the first one does) and a capped count."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date
from typing import Any

from sqlalchemy import func, or_, tuple_
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


MAX_CLIENT_MATCHES = 1000  # a search matching more clients than this lists their first 1,000 (by id)


async def _client_ids(session: AsyncSession, text: str) -> list[int]:
    pattern = "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    query = (
        select(col(Client.id))
        .where(or_(col(Client.name).ilike(pattern), col(Client.email).ilike(pattern)))
        .order_by(col(Client.id))
        .limit(MAX_CLIENT_MATCHES)
    )
    return [int(i) for i in (await session.exec(query)).all() if i is not None]


async def _query(session: AsyncSession, base: Any, where: InvoiceFilter, due: DueRange) -> Any:
    """The API's filters (defined once) plus the due range; a search matches an exact invoice number or the
    invoices of clients whose name or email contains the text. Both are index ranges (the number's unique
    index, ix invoices.client_id), unlike a substring scan of every number (seconds at a million invoices)."""
    query = _filtered(base, replace(where, search=None))
    if where.search:
        ids = await _client_ids(session, where.search)
        query = query.where(or_(col(Invoice.number) == where.search.upper(), col(Invoice.client_id).in_(ids)))
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
    query = await _query(
        session, select(Invoice, Client).join(Client, col(Client.id) == col(Invoice.client_id)), where, due
    )
    if after is not None:
        key = tuple_(column, Invoice.id)
        query = query.where(key < tuple_(*after) if descending else key > tuple_(*after))
    order = (col(column).desc(), col(Invoice.id).desc()) if descending else (col(column).asc(), col(Invoice.id).asc())
    rows = (await session.exec(query.order_by(*order).limit(limit + 1))).all()
    return rows[:limit], len(rows) > limit


async def capped_count(session: AsyncSession, *, where: InvoiceFilter, due: DueRange, cap: int) -> int:
    """How many match, counting at most `cap` (the page says "10,000+" rather than scanning a million rows)."""
    base = select(col(Invoice.id)).join(Client, col(Client.id) == col(Invoice.client_id))
    inner = (await _query(session, base, where, due)).limit(cap + 1)
    return int((await session.exec(select(func.count()).select_from(inner.subquery()))).one())
