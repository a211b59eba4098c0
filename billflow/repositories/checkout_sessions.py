"""Queries on the Stripe Checkout Sessions opened for invoices."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import text
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models.checkout_sessions import CheckoutSession


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


# Sessions the sweep may find completed without a webhook: still open (or complete but unpaid) here, for an
# invoice that is not settled. Ranked within each workspace, oldest first, and taken in turns over workspaces
# (each one's oldest, then each one's second, ...): a workspace with thousands of sessions owed cannot push
# another's one out of the batch (fair share, issue 13).
_TO_RECONCILE = text(
    """
    SELECT id FROM (
      SELECT cs.id, cs.created_at,
             row_number() OVER (PARTITION BY cs.workspace_id ORDER BY cs.created_at, cs.id) AS turn
      FROM checkout_sessions cs JOIN invoices i ON i.id = cs.invoice_id
      WHERE cs.status IN ('open', 'complete')
        AND cs.payment_status NOT IN ('paid', 'failed')
        AND cs.created_at < :created_before
        AND i.status NOT IN ('paid', 'void')
    ) ranked
    WHERE turn <= :limit
    ORDER BY turn, created_at, id
    LIMIT :limit
    """
)


async def sessions_to_reconcile(
    session: AsyncSession, *, created_before: datetime, limit: int
) -> Sequence[CheckoutSession]:
    """Up to `limit` sessions Stripe may have completed without a webhook, in turns over workspaces."""
    rows = await session.execute(_TO_RECONCILE, {"created_before": created_before, "limit": limit})
    ids = [row[0] for row in rows]
    if not ids:
        return []
    found = {
        row.id: row for row in (await session.exec(select(CheckoutSession).where(col(CheckoutSession.id).in_(ids))))
    }
    return [found[i] for i in ids if i in found]
