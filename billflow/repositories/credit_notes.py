"""Credit-note queries."""

from __future__ import annotations

from collections.abc import Sequence

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from billflow.workspace_context import current_workspace
from models.credit_notes import CreditNote, CreditNoteLine
from models.invoices import Invoice


async def get_credit_note(
    session: AsyncSession,
    *,
    number: str | None = None,
    idempotency_key: str | None = None,
    credit_note_id: int | None = None,
) -> CreditNote | None:
    query = select(CreditNote)
    if number is not None:
        query = query.where(CreditNote.number == number)
    if idempotency_key is not None:
        query = query.where(CreditNote.idempotency_key == idempotency_key)
    if credit_note_id is not None:
        query = query.where(CreditNote.id == credit_note_id)
    if (workspace := current_workspace()) is not None:  # numbers are unique per workspace only
        query = query.where(CreditNote.workspace_id == workspace)
    return (await session.exec(query)).first()


async def get_lines(session: AsyncSession, *, credit_note_id: int) -> Sequence[CreditNoteLine]:
    query = (
        select(CreditNoteLine)
        .where(CreditNoteLine.credit_note_id == credit_note_id)
        .order_by(col(CreditNoteLine.position))
    )
    return (await session.exec(query)).all()


async def list_credit_notes(
    session: AsyncSession,
    *,
    invoice_id: int | None = None,
    limit: int = 50,
    offset: int = 0,
    workspace_id: int | None = None,
) -> Sequence[tuple[CreditNote, Invoice]]:
    """Newest first; only the workspace's (its invoices') when `workspace_id` is given."""
    query = select(CreditNote, Invoice).join(Invoice, col(Invoice.id) == col(CreditNote.invoice_id))
    if workspace_id is not None:
        query = query.where(Invoice.workspace_id == workspace_id)
    if invoice_id is not None:
        query = query.where(CreditNote.invoice_id == invoice_id)
    query = query.order_by(col(CreditNote.id).desc()).limit(limit).offset(offset)
    return (await session.exec(query)).all()
