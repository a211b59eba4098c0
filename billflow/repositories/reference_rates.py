"""Queries on the reference rates that statutory late-payment interest is computed from."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models.collections import ReferenceRate
from models.invoices import Invoice


async def list_rates(session: AsyncSession, *, rate: str | None = None) -> Sequence[ReferenceRate]:
    query = select(ReferenceRate).order_by(col(ReferenceRate.rate), col(ReferenceRate.valid_from))
    if rate is not None:
        query = query.where(ReferenceRate.rate == rate)
    return (await session.exec(query)).all()


async def put_rate(
    session: AsyncSession, *, rate: str, valid_from: date, valid_to: date | None, rate_bp: int, source: str
) -> ReferenceRate:
    """Insert the period, or correct the one starting on the same day (one row per rate and start)."""
    query = select(ReferenceRate).where(ReferenceRate.rate == rate, ReferenceRate.valid_from == valid_from)
    row = (await session.exec(query.with_for_update())).first()
    if row is None:
        row = ReferenceRate(rate=rate, valid_from=valid_from, valid_to=valid_to, rate_bp=rate_bp, source=source)
    else:
        row.valid_to, row.rate_bp, row.source = valid_to, rate_bp, source
    session.add(row)
    await session.flush()
    return row


async def interest_invoice_keys(session: AsyncSession, *, number: str) -> Sequence[str]:
    """Source keys of the interest invoices already issued for invoice `number` (interest:<number>-<until>)."""
    prefix = f"booking:interest:{number}-"
    query = select(Invoice.source_key).where(col(Invoice.source_key).startswith(prefix))
    return (await session.exec(query)).all()
