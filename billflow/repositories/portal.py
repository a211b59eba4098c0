"""Queries of the client portal: magic links, and what one client may see."""

from __future__ import annotations

from collections.abc import Sequence

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models.collections import PortalLink
from models.invoices import Invoice
from models.payments import Payment


async def get_link(
    session: AsyncSession, *, token_hash: str | None = None, link_id: int | None = None, for_update: bool = False
) -> PortalLink | None:
    query = select(PortalLink)
    if token_hash is not None:
        query = query.where(PortalLink.token_hash == token_hash)
    if link_id is not None:
        query = query.where(PortalLink.id == link_id)
    if for_update:
        query = query.with_for_update()
    return (await session.exec(query)).first()


async def client_invoices(session: AsyncSession, *, client_id: int, limit: int = 200) -> Sequence[Invoice]:
    query = select(Invoice).where(Invoice.client_id == client_id).order_by(col(Invoice.issue_date).desc()).limit(limit)
    return (await session.exec(query)).all()


async def client_payments(session: AsyncSession, *, client_id: int, limit: int = 200) -> Sequence[Payment]:
    query = select(Payment).where(Payment.client_id == client_id).order_by(col(Payment.received_at).desc()).limit(limit)
    return (await session.exec(query)).all()
