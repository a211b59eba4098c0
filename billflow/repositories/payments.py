from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy.dialects.postgresql import insert
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models.invoices import Invoice
from models.payments import Payment


async def insert_payment_once(
    session: AsyncSession,
    *,
    invoice_id: int,
    client_id: int,
    kind: str,
    provider: str,
    reference: str,
    amount_minor: int,
    currency: str,
    method: str,
    received_at: datetime,
    note: str | None,
) -> bool:
    """True if this (provider, reference) is new; a replay inserts nothing."""
    stmt = (
        insert(Payment)
        .values(
            # The invoice's workspace: every caller's payment belongs where its invoice does.
            workspace_id=select(Invoice.workspace_id).where(Invoice.id == invoice_id).scalar_subquery(),
            invoice_id=invoice_id,
            client_id=client_id,
            kind=kind,
            provider=provider,
            provider_reference=reference,
            amount_minor=amount_minor,
            currency=currency,
            method=method,
            received_at=received_at,
            note=note,
            created_at=datetime.now(received_at.tzinfo),
        )
        .on_conflict_do_nothing(index_elements=[col(Payment.provider), col(Payment.provider_reference)])
        .returning(col(Payment.id))
    )
    return (await session.exec(stmt)).first() is not None  # type: ignore[call-overload]


async def list_payments(session: AsyncSession, *, invoice_id: int) -> Sequence[Payment]:
    query = select(Payment).where(Payment.invoice_id == invoice_id).order_by(col(Payment.received_at))
    return (await session.exec(query)).all()
