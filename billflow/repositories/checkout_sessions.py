"""Queries on the Stripe Checkout Sessions opened for invoices."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import text
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models.checkout_sessions import CheckoutSession, CheckoutSessionStatus
from models.enums import InvoiceStatus
from models.invoices import Invoice


async def lock_invoice_checkout(session: AsyncSession, *, invoice_id: int) -> None:
    """Serialise pay-URL visits of one invoice until the transaction ends (payments are not blocked)."""
    await session.execute(text("SELECT pg_advisory_xact_lock(hashtext('billflow:checkout'), :id)"), {"id": invoice_id})


async def latest_session(session: AsyncSession, *, invoice_id: int) -> CheckoutSession | None:
    query = (
        select(CheckoutSession)
        .where(CheckoutSession.invoice_id == invoice_id)
        .order_by(col(CheckoutSession.attempt).desc())
        .limit(1)
    )
    return (await session.exec(query)).first()


async def get_session(
    session: AsyncSession,
    *,
    stripe_session_id: str | None = None,
    payment_intent_id: str | None = None,
    for_update: bool = False,
) -> CheckoutSession | None:
    query = select(CheckoutSession)
    if stripe_session_id is not None:
        query = query.where(CheckoutSession.stripe_session_id == stripe_session_id)
    if payment_intent_id is not None:
        query = query.where(CheckoutSession.payment_intent_id == payment_intent_id)
    if for_update:
        query = query.with_for_update()
    return (await session.exec(query)).first()


async def sessions_to_reconcile(
    session: AsyncSession, *, created_before: datetime, limit: int
) -> Sequence[CheckoutSession]:
    """Sessions Stripe may have completed without a webhook reaching billflow: still open (or complete but
    unpaid) here, for an invoice that is not settled."""
    final = [InvoiceStatus.paid.value, InvoiceStatus.void.value]
    query = (
        select(CheckoutSession)
        .join(Invoice, col(Invoice.id) == col(CheckoutSession.invoice_id))
        .where(
            col(CheckoutSession.status).in_([CheckoutSessionStatus.open, CheckoutSessionStatus.complete]),
            col(CheckoutSession.payment_status).not_in(["paid", "failed"]),
            CheckoutSession.created_at < created_before,
            col(Invoice.status).not_in(final),
        )
        .order_by(col(CheckoutSession.created_at))
        .limit(limit)
    )
    return (await session.exec(query)).all()
