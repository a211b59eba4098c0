"""What needs a person today: emails that failed or bounced recently, clients whose address bounces."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models.clients import Client
from models.email_messages import EmailMessage
from models.invoices import Invoice

FAILED_STATES = ("failed", "bounced", "dropped", "spam", "unknown")


async def failed_emails(
    session: AsyncSession, *, since: datetime, limit: int = 20
) -> Sequence[tuple[EmailMessage, str | None]]:
    """Recent invoice emails that did not get through, newest first, with the invoice number."""
    query = (
        select(EmailMessage, Invoice.number)
        .join(Invoice, col(Invoice.id) == col(EmailMessage.invoice_id), isouter=True)
        .where(col(EmailMessage.status).in_(FAILED_STATES), col(EmailMessage.updated_at) >= since)
        .order_by(col(EmailMessage.updated_at).desc())
        .limit(limit)
    )
    return (await session.exec(query)).all()


async def bounced_clients(session: AsyncSession, *, limit: int = 20) -> Sequence[Client]:
    query = select(Client).where(col(Client.email_bounced).is_(True)).order_by(col(Client.name)).limit(limit)
    return (await session.exec(query)).all()
