"""The inbox's queries: every inbound delivery is claimed once per (source, channel, event key) (models/inbox.py).

The claim inserts the row unless it exists and then locks it until the caller's transaction ends, so a
concurrent copy of one delivery waits there and then finds what the first one recorded.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func
from sqlalchemy.dialects.postgresql import insert
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models.columns import DEFAULT_WORKSPACE_ID, utcnow
from models.inbox import InboxEvent

OUTCOME_MAX = 500


async def claim(
    session: AsyncSession,
    *,
    source: str,
    channel: str = "",
    event_key: str,
    type: str,
    payload: dict[str, Any],
    payload_sha256: str | None = None,
    sent_by: str | None = None,
    workspace_id: int = DEFAULT_WORKSPACE_ID,
) -> InboxEvent:
    """The delivery's row, inserted unless it exists, locked until the caller's transaction ends.

    The stored row is returned as it is (a repeat gets the first delivery's body, hash and answer)."""
    stmt = (
        insert(InboxEvent)
        .values(
            source=source,
            channel=channel,
            event_key=event_key,
            type=type,
            payload=payload,
            payload_sha256=payload_sha256,
            result={},
            sent_by=sent_by,
            workspace_id=workspace_id,
            received_at=utcnow(),
        )
        .on_conflict_do_nothing(
            index_elements=[col(InboxEvent.source), col(InboxEvent.channel), col(InboxEvent.event_key)]
        )
    )
    await session.exec(stmt)  # type: ignore[call-overload]
    query = (
        select(InboxEvent)
        .where(InboxEvent.source == source, InboxEvent.channel == channel, InboxEvent.event_key == event_key)
        .with_for_update()
    )
    return (await session.exec(query)).one()


async def record(
    session: AsyncSession,
    *,
    event: InboxEvent,
    outcome: str,
    result: dict[str, Any] | None = None,
    invoice_id: int | None = None,
) -> None:
    """What handling the claimed (still locked) row came to: it is processed from now on."""
    event.outcome = outcome[:OUTCOME_MAX]
    if result is not None:
        event.result = result
    event.invoice_id = invoice_id
    event.processed_at = utcnow()
    session.add(event)
    await session.flush()


async def record_once(session: AsyncSession, *, event_id: int, outcome: str, invoice_id: int | None) -> None:
    """`record` for a handler that applied outside the claim's transaction (Stripe): the first outcome stays, so a
    concurrent duplicate that applied too (idempotently) changes nothing."""
    row = await session.get(InboxEvent, event_id, with_for_update=True)
    if row is not None and row.processed_at is None:
        await record(session, event=row, outcome=outcome, invoice_id=invoice_id)


async def count(session: AsyncSession, *, source: str, channel: str | None = None, event_key: str | None = None) -> int:
    query = select(func.count()).select_from(InboxEvent).where(InboxEvent.source == source)
    if channel is not None:
        query = query.where(InboxEvent.channel == channel)
    if event_key is not None:
        query = query.where(InboxEvent.event_key == event_key)
    return (await session.exec(query)).one()


async def recent(
    session: AsyncSession, *, source: str, channel: str = "", before_id: int | None = None, limit: int = 25
) -> Sequence[InboxEvent]:
    """A channel's deliveries, newest first, `limit` of them from `before_id` on (keyset pages: the index
    ix_inbox_events_source_channel_id answers any page of any size of table at once)."""
    query = select(InboxEvent).where(InboxEvent.source == source, InboxEvent.channel == channel)
    if before_id is not None:
        query = query.where(col(InboxEvent.id) < before_id)
    return (await session.exec(query.order_by(col(InboxEvent.id).desc()).limit(limit))).all()


async def latest_received_at(session: AsyncSession, *, source: str, channel: str = "") -> datetime | None:
    """When the channel's newest delivery arrived (newest rows first by primary key: no scan of old ones)."""
    query = (
        select(InboxEvent.received_at)
        .where(InboxEvent.source == source, InboxEvent.channel == channel)
        .order_by(col(InboxEvent.id).desc())
        .limit(1)
    )
    return (await session.exec(query)).first()
