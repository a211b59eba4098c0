"""Queries of the client portal: magic links, and what one client may see."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import func, text, update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models.clients import Client
from models.collections import PortalLink, PortalLinkRequest
from models.credit_notes import CreditNote
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


async def client_credit_notes(
    session: AsyncSession, *, client_id: int, limit: int = 200
) -> Sequence[tuple[CreditNote, str]]:
    """The client's credit notes, newest first, each with the number of the invoice it credits."""
    query = (
        select(CreditNote, Invoice.number)
        .join(Invoice, col(Invoice.id) == col(CreditNote.invoice_id))
        .where(CreditNote.client_id == client_id)
        .order_by(col(CreditNote.issue_date).desc(), col(CreditNote.id).desc())
        .limit(limit)
    )
    return (await session.exec(query)).all()


async def get_client_credit_note(session: AsyncSession, *, client_id: int, number: str) -> CreditNote | None:
    query = select(CreditNote).where(CreditNote.client_id == client_id, CreditNote.number == number)
    return (await session.exec(query)).first()


async def revoke_children(session: AsyncSession, *, parent_id: int, at: datetime) -> None:
    """End every browsing link opened from the emailed link `parent_id`."""
    await session.exec(  # type: ignore[call-overload]
        update(PortalLink)
        .where(col(PortalLink.parent_id) == parent_id, col(PortalLink.revoked_at).is_(None))
        .values(revoked_at=at)
    )


async def clients_by_email(session: AsyncSession, *, email: str, limit: int = 5) -> Sequence[Client]:
    """Clients whose contact address is `email` (case-insensitive); several sources may share one."""
    query = select(Client).where(func.lower(Client.email) == email.lower()).order_by(col(Client.id)).limit(limit)
    return (await session.exec(query)).all()


async def add_request(session: AsyncSession, *, request: PortalLinkRequest) -> None:
    session.add(request)
    await session.flush()


async def count_requests(
    session: AsyncSession, *, since: datetime, email_hash: str | None = None, address: str | None = None
) -> int:
    query = select(func.count()).select_from(PortalLinkRequest).where(col(PortalLinkRequest.at) >= since)
    if email_hash is not None:
        query = query.where(PortalLinkRequest.email_hash == email_hash)
    if address is not None:
        query = query.where(PortalLinkRequest.address == address)
    return int((await session.exec(query)).one())


async def lock_requests(session: AsyncSession) -> None:
    """Serialise link requests for the rest of the transaction (they are few; the limit must hold exactly)."""
    await session.execute(text("SELECT pg_advisory_xact_lock(hashtext('billflow:portal-requests'))"))
