"""Queries on received booking events: claimed once per (integration, event id)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import delete
from sqlalchemy.dialects.postgresql import insert
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models.booking_events import BookingEvent
from models.columns import DEFAULT_WORKSPACE_ID, utcnow


async def claim_event(
    session: AsyncSession,
    *,
    integration: str,
    event_id: str,
    type: str,
    version: int,
    booking_id: str,
    payload: dict[str, Any],
    payload_sha256: str,
    sent_by: str | None = None,
    workspace_id: int = DEFAULT_WORKSPACE_ID,
) -> BookingEvent:
    """Insert the event unless it exists, then lock its row until the caller's transaction ends.

    A concurrent delivery of the same id waits here until the first one has committed its result.
    """
    stmt = (
        insert(BookingEvent)
        .values(
            integration=integration,
            event_id=event_id,
            type=type,
            version=version,
            booking_id=booking_id,
            payload=payload,
            payload_sha256=payload_sha256,
            result={},
            received_at=utcnow(),
            sent_by=sent_by,
            workspace_id=workspace_id,
        )
        .on_conflict_do_nothing(index_elements=[col(BookingEvent.integration), col(BookingEvent.event_id)])
    )
    await session.exec(stmt)  # type: ignore[call-overload]
    query = (
        select(BookingEvent)
        .where(BookingEvent.integration == integration, BookingEvent.event_id == event_id)
        .with_for_update()
    )
    return (await session.exec(query)).one()


async def record_result(session: AsyncSession, *, event: BookingEvent, result: dict[str, Any]) -> None:
    event.result = result
    event.processed_at = utcnow()
    session.add(event)
    await session.flush()


async def count_events(session: AsyncSession, *, integration: str, event_id: str) -> int:
    query = select(BookingEvent.id).where(BookingEvent.integration == integration, BookingEvent.event_id == event_id)
    return len((await session.exec(query)).all())


async def forget_unfinished(session: AsyncSession, *, integration: str, event_id: str) -> None:
    """Remove a claimed event that has no result yet (its handling failed), so nothing half-done is stored."""
    stmt = delete(BookingEvent).where(
        col(BookingEvent.integration) == integration,
        col(BookingEvent.event_id) == event_id,
        col(BookingEvent.processed_at).is_(None),
    )
    await session.exec(stmt)  # type: ignore[call-overload]


async def recent_events(
    session: AsyncSession, *, integration: str, before_id: int | None = None, limit: int = 25
) -> Sequence[BookingEvent]:
    """The integration's deliveries, newest first, `limit` of them from `before_id` on (keyset pages: the index
    ix_booking_events_integration_id answers any page of any size of table at once)."""
    query = select(BookingEvent).where(BookingEvent.integration == integration)
    if before_id is not None:
        query = query.where(col(BookingEvent.id) < before_id)
    return (await session.exec(query.order_by(col(BookingEvent.id).desc()).limit(limit))).all()
