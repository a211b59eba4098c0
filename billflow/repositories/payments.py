from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import func
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
    refund_of_payment_id: int | None = None,
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
            refund_of_payment_id=refund_of_payment_id,
            created_at=datetime.now(received_at.tzinfo),
        )
        .on_conflict_do_nothing(index_elements=[col(Payment.provider), col(Payment.provider_reference)])
        .returning(col(Payment.id))
    )
    return (await session.exec(stmt)).first() is not None  # type: ignore[call-overload]


async def list_payments(session: AsyncSession, *, invoice_id: int) -> Sequence[Payment]:
    query = select(Payment).where(Payment.invoice_id == invoice_id).order_by(col(Payment.received_at))
    return (await session.exec(query)).all()


async def get_payment(session: AsyncSession, *, payment_id: int) -> Payment | None:
    return await session.get(Payment, payment_id)


async def refunded_by_payment(session: AsyncSession, *, invoice_id: int) -> dict[int, int]:
    """What has been refunded of each payment of the invoice, by payment id."""
    query = (
        select(col(Payment.refund_of_payment_id), func.sum(Payment.amount_minor))
        .where(
            Payment.invoice_id == invoice_id, Payment.kind == "refund", col(Payment.refund_of_payment_id).is_not(None)
        )
        .group_by(col(Payment.refund_of_payment_id))
    )
    rows = (await session.exec(query)).all()
    return {int(pid): int(total or 0) for pid, total in rows if pid is not None}


async def refunded_with_reference_prefix(session: AsyncSession, *, provider: str, prefix: str) -> int:
    """The sum of a provider's refunds whose reference starts with `prefix` (a Stripe charge's refunds)."""
    query = select(func.coalesce(func.sum(Payment.amount_minor), 0)).where(
        Payment.provider == provider,
        Payment.kind == "refund",
        col(Payment.provider_reference).startswith(prefix),
    )
    return int((await session.exec(query)).one())
