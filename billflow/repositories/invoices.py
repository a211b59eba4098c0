from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from sqlalchemy import func, or_, text
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from billflow.reporting import end_of_day, start_of_day, today_in
from billflow.workspace_context import current_workspace
from models.clients import Client
from models.enums import UNSETTLED_STATUSES
from models.invoices import Invoice, InvoiceLine


async def get_invoice(
    session: AsyncSession,
    *,
    invoice_id: int | None = None,
    number: str | None = None,
    source_key: str | None = None,
    public_token: str | None = None,
    workflow_id: str | None = None,
    for_update: bool = False,
) -> Invoice | None:
    query = select(Invoice)
    for column, value in (
        (Invoice.id, invoice_id),
        (Invoice.number, number),
        (Invoice.source_key, source_key),
        (Invoice.public_token, public_token),
        (Invoice.workflow_id, workflow_id),
    ):
        if value is not None:
            query = query.where(column == value)
    if (workspace := current_workspace()) is not None:  # a caller narrowed to its workspace finds only its own
        query = query.where(Invoice.workspace_id == workspace)
    if for_update:
        query = query.with_for_update()
    return (await session.exec(query)).first()


async def get_lines(session: AsyncSession, *, invoice_id: int) -> Sequence[InvoiceLine]:
    query = select(InvoiceLine).where(InvoiceLine.invoice_id == invoice_id).order_by(col(InvoiceLine.position))
    return (await session.exec(query)).all()


async def list_invoices(
    session: AsyncSession,
    *,
    status: str | None = None,
    client_id: int | None = None,
    limit: int = 50,
    offset: int = 0,
) -> Sequence[tuple[Invoice, Client]]:
    query = select(Invoice, Client).join(Client, col(Client.id) == col(Invoice.client_id))
    if status is not None:
        query = query.where(Invoice.status == status)
    if client_id is not None:
        query = query.where(Invoice.client_id == client_id)
    query = query.order_by(col(Invoice.id).desc()).limit(limit).offset(offset)
    return (await session.exec(query)).all()


@dataclass(frozen=True)
class InvoiceFilter:
    """Staff list filters; every field optional. Amounts compare the invoice total; days are reporting-zone days
    (`zone`, billflow/reporting.py): issued_from/to compare the issue instant, overdue_days the due instant."""

    statuses: tuple[str, ...] = ()
    client_id: int | None = None
    overdue_days: int | None = None  # unpaid and at least this many days past the due date
    today: date | None = None  # the reference day for overdue_days (today in `zone` if None)
    amount_min: int | None = None
    amount_max: int | None = None
    currency: str | None = None
    issued_from: date | None = None
    issued_to: date | None = None
    search: str | None = None  # case-insensitive substring of the number or the client's name
    zone: str = "UTC"  # the reporting time zone
    workspace_id: int | None = None  # only this workspace's invoices (the API key's); None: every workspace


def _filtered(query: Any, f: InvoiceFilter) -> Any:
    workspace = f.workspace_id if f.workspace_id is not None else current_workspace()
    if workspace is not None:
        query = query.where(Invoice.workspace_id == workspace)
    if f.statuses:
        query = query.where(col(Invoice.status).in_(f.statuses))
    if f.client_id is not None:
        query = query.where(Invoice.client_id == f.client_id)
    if f.overdue_days is not None:
        # At least N days past due: as in the reports, 1 day once the due instant passes before today's end.
        today = f.today or today_in(f.zone)
        cutoff = end_of_day(today - timedelta(days=f.overdue_days - 1), f.zone)
        unpaid = UNSETTLED_STATUSES
        query = query.where(col(Invoice.status).in_(unpaid), col(Invoice.due_at) < cutoff)
    if f.amount_min is not None:
        query = query.where(col(Invoice.total_minor) >= f.amount_min)
    if f.amount_max is not None:
        query = query.where(col(Invoice.total_minor) <= f.amount_max)
    if f.currency is not None:
        query = query.where(Invoice.currency == f.currency)
    if f.issued_from is not None:
        query = query.where(col(Invoice.issued_at) >= start_of_day(f.issued_from, f.zone))
    if f.issued_to is not None:
        query = query.where(col(Invoice.issued_at) < end_of_day(f.issued_to, f.zone))
    if f.search:
        pattern = "%" + f.search.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        # The clients whose name matches, as a set of ids (their trigram index, in the workspace): the invoices'
        # side is then read from ix_invoices_ws_id alone, and counting needs no join.
        named = select(Client.id).where(col(Client.name).ilike(pattern))
        if workspace is not None:
            named = named.where(Client.workspace_id == workspace)
        query = query.where(or_(col(Invoice.number).ilike(pattern), col(Invoice.client_id).in_(named)))
    return query


async def search_invoices(
    session: AsyncSession, *, where: InvoiceFilter, limit: int = 50, offset: int = 0
) -> tuple[Sequence[tuple[Invoice, Client]], int]:
    """One page of invoices with their clients (newest first) and the total number matching."""
    base = select(Invoice, Client).join(Client, col(Client.id) == col(Invoice.client_id))
    page = _filtered(base, where).order_by(col(Invoice.id).desc()).limit(limit).offset(offset)
    # Every invoice has its client (a foreign key), and names are matched by a subquery: the count needs no join,
    # so it is an index-only count of the workspace's invoices instead of a visit to each one.
    counted = _filtered(select(func.count()).select_from(Invoice), where)
    rows = (await session.exec(page)).all()
    total = (await session.exec(counted)).one()
    return rows, int(total)


async def get_invoice_with_client(session: AsyncSession, *, number: str) -> tuple[Invoice, Client] | None:
    query = (
        select(Invoice, Client).join(Client, col(Client.id) == col(Invoice.client_id)).where(Invoice.number == number)
    )
    if (workspace := current_workspace()) is not None:  # numbers are unique per workspace only
        query = query.where(Invoice.workspace_id == workspace)
    row = (await session.exec(query)).first()
    return (row[0], row[1]) if row is not None else None


async def document_workspaces(session: AsyncSession, *, number: str) -> set[int]:
    """The workspaces holding an invoice or credit note with this number (numbers are unique per workspace)."""
    stmt = text(
        "SELECT workspace_id FROM invoices WHERE number = :number "
        "UNION SELECT workspace_id FROM credit_notes WHERE number = :number"
    )
    return set((await session.execute(stmt, {"number": number})).scalars())


async def number_of(conn: AsyncSession | AsyncConnection, *, invoice_id: int) -> str:
    """The invoice's number as committed (on a session or a bare connection)."""
    found = await conn.execute(select(Invoice.number).where(col(Invoice.id) == invoice_id))
    return str(found.scalar_one())
