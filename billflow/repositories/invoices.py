from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import text
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models.clients import Client
from models.invoices import Invoice, InvoiceLine


async def next_invoice_number(session: AsyncSession, *, year: int) -> str:
    """INV-2026-000042 from a gap-free per-year counter.

    The counter row stays locked until the caller's transaction ends, so numbers are handed out in commit
    order and a rolled-back invoice returns its number.
    """
    value = (
        await session.execute(
            text(
                "INSERT INTO invoice_counters (year, last_value) VALUES (:year, 1) "
                "ON CONFLICT (year) DO UPDATE SET last_value = invoice_counters.last_value + 1 "
                "RETURNING last_value"
            ),
            {"year": year},
        )
    ).scalar_one()
    return f"INV-{year}-{value:06d}"


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
