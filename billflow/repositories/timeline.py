from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy.dialects.postgresql import insert
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models.columns import utcnow
from models.timeline import TimelineEvent


async def add_event(
    session: AsyncSession,
    *,
    client_id: int,
    kind: str,
    invoice_id: int | None = None,
    message: str = "",
    data: dict[str, Any] | None = None,
    key: str | None = None,
) -> bool:
    """Append an event; with a key, a retried write lands once. True if it was new."""
    stmt = (
        insert(TimelineEvent)
        .values(
            client_id=client_id,
            invoice_id=invoice_id,
            kind=kind,
            message=message,
            data=data or {},
            idempotency_key=key,
            occurred_at=utcnow(),
        )
        .on_conflict_do_nothing(index_elements=[col(TimelineEvent.idempotency_key)])
        .returning(col(TimelineEvent.id))
    )
    return (await session.exec(stmt)).first() is not None  # type: ignore[call-overload]


async def event_exists(session: AsyncSession, *, key: str) -> bool:
    query = select(TimelineEvent.id).where(TimelineEvent.idempotency_key == key)
    return (await session.exec(query)).first() is not None


async def get_event(session: AsyncSession, *, key: str) -> TimelineEvent | None:
    query = select(TimelineEvent).where(TimelineEvent.idempotency_key == key)
    return (await session.exec(query)).first()


async def list_events(
    session: AsyncSession,
    *,
    client_id: int | None = None,
    invoice_id: int | None = None,
    limit: int = 200,
) -> Sequence[TimelineEvent]:
    query = select(TimelineEvent)
    if client_id is not None:
        query = query.where(TimelineEvent.client_id == client_id)
    if invoice_id is not None:
        query = query.where(TimelineEvent.invoice_id == invoice_id)
    return (
        await session.exec(query.order_by(col(TimelineEvent.occurred_at), col(TimelineEvent.id)).limit(limit))
    ).all()
