"""What needs a person today: emails that failed or bounced recently, clients whose address bounces, money to
give back or keep (refunds to decide); each of one workspace."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import ColumnElement, TextClause, text
from sqlalchemy.orm import aliased
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models.clients import Client
from models.email_messages import EmailMessage
from models.invoices import Invoice
from models.timeline import TimelineEvent

FAILED_STATES = ("failed", "bounced", "dropped", "spam", "unknown")


async def failed_emails(
    session: AsyncSession, *, workspace_id: int, since: datetime, limit: int = 20
) -> Sequence[tuple[EmailMessage, str | None]]:
    """Recent invoice emails that did not get through, newest first, with the invoice number."""
    query = (
        select(EmailMessage, Invoice.number)
        .join(Invoice, col(Invoice.id) == col(EmailMessage.invoice_id), isouter=True)
        .where(
            col(EmailMessage.workspace_id) == workspace_id,
            col(EmailMessage.status).in_(FAILED_STATES),
            col(EmailMessage.updated_at) >= since,
        )
        .order_by(col(EmailMessage.updated_at).desc())
        .limit(limit)
    )
    return (await session.exec(query)).all()


async def bounced_clients(session: AsyncSession, *, workspace_id: int, limit: int = 20) -> Sequence[Client]:
    query = (
        select(Client)
        .where(col(Client.workspace_id) == workspace_id, col(Client.email_bounced).is_(True))
        .order_by(col(Client.name))
        .limit(limit)
    )
    return (await session.exec(query)).all()


def _undecided_flags() -> tuple[TextClause, ColumnElement[bool]]:
    """Events flagged `refund_decision` with no staff refund decision on their invoice since."""
    decided = aliased(TimelineEvent)
    later = (
        select(decided.id)
        .where(
            decided.invoice_id == TimelineEvent.invoice_id,
            decided.kind == "refund.decided",
            col(decided.occurred_at) >= col(TimelineEvent.occurred_at),
        )
        .exists()
    )
    # Spelled as literal SQL so the planner can match the partial index ix_timeline_refund_decisions (a bound
    # parameter in its place cannot prove the index's predicate).
    flagged = text("(timeline_events.data ->> 'flag') = 'refund_decision'")
    return flagged, ~later


async def refunds_to_decide(
    session: AsyncSession, *, workspace_id: int, limit: int = 20
) -> Sequence[tuple[TimelineEvent, Invoice]]:
    """Events flagged `refund_decision` (a paid booking cancelled, money on a void invoice) on invoices still
    holding money, with no staff refund decision since; newest first."""
    query = (
        select(TimelineEvent, Invoice)
        .join(Invoice, col(Invoice.id) == col(TimelineEvent.invoice_id))
        .where(*_undecided_flags(), col(Invoice.workspace_id) == workspace_id, col(Invoice.amount_paid_minor) > 0)
        .order_by(col(TimelineEvent.occurred_at).desc())
        .limit(limit)
    )
    return (await session.exec(query)).all()


async def refund_decision_pending(session: AsyncSession, *, invoice_id: int) -> bool:
    query = select(TimelineEvent.id).where(TimelineEvent.invoice_id == invoice_id, *_undecided_flags()).limit(1)
    return (await session.exec(query)).first() is not None
