"""Webhook deliveries, stored once per (provider, event id)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.dialects.postgresql import insert
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models.columns import utcnow
from models.webhook_events import WebhookEvent


async def store_event_once(
    session: AsyncSession, *, provider: str, event_id: str, type: str, payload: dict[str, Any]
) -> WebhookEvent:
    """Insert the event, or return the stored one; locked, so two concurrent deliveries apply it once."""
    stmt = (
        insert(WebhookEvent)
        .values(provider=provider, event_id=event_id, type=type, payload=payload, received_at=utcnow())
        .on_conflict_do_nothing(index_elements=[col(WebhookEvent.provider), col(WebhookEvent.event_id)])
    )
    await session.exec(stmt)  # type: ignore[call-overload]
    query = (
        select(WebhookEvent)
        .where(WebhookEvent.provider == provider, WebhookEvent.event_id == event_id)
        .with_for_update()
    )
    return (await session.exec(query)).one()


async def mark_processed(session: AsyncSession, *, event_row_id: int, outcome: str, invoice_id: int | None) -> None:
    """The first apply's outcome stays: a concurrent duplicate that applied too (idempotently) changes nothing."""
    row = await session.get(WebhookEvent, event_row_id, with_for_update=True)
    if row is not None and row.processed_at is None:
        row.outcome, row.invoice_id, row.processed_at = outcome[:500], invoice_id, utcnow()
        session.add(row)


async def count_events(session: AsyncSession, *, provider: str, event_id: str | None = None) -> int:
    query = select(WebhookEvent).where(WebhookEvent.provider == provider)
    if event_id is not None:
        query = query.where(WebhookEvent.event_id == event_id)
    return len((await session.exec(query)).all())


async def latest_received_at(session: AsyncSession, *, provider: str) -> datetime | None:
    """When the provider's newest event arrived (newest rows first by primary key: no scan of old events)."""
    query = (
        select(WebhookEvent.received_at)
        .where(WebhookEvent.provider == provider)
        .order_by(col(WebhookEvent.id).desc())
        .limit(1)
    )
    return (await session.exec(query)).first()
