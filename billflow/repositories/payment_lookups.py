"""Payment lookups used by the pay page and the webhooks (by provider reference, per invoice)."""

from __future__ import annotations

from sqlalchemy import func
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from models.payments import Payment


async def get_payment(session: AsyncSession, *, provider: str, reference: str) -> Payment | None:
    query = select(Payment).where(Payment.provider == provider, Payment.provider_reference == reference)
    return (await session.exec(query)).first()


async def count_payments(session: AsyncSession, *, invoice_id: int) -> int:
    query = select(func.count()).select_from(Payment).where(Payment.invoice_id == invoice_id)
    return int((await session.exec(query)).one())
