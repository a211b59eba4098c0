"""The outbox to Temporal: written in the caller's transaction, read and marked by the relay."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel
from sqlalchemy import text
from sqlalchemy.dialects.postgresql import insert
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models.columns import utcnow
from models.run_outbox import RunOutboxMessage

SIGNAL = "signal"
START = "start"


async def enqueue(
    session: AsyncSession, *, key: str, workflow_id: str, kind: str, name: str, payload: dict[str, Any]
) -> bool:
    """Add a message once per key, in the caller's transaction: it is relayed only if that transaction commits.
    True if it was new."""
    stmt = (
        insert(RunOutboxMessage)
        .values(
            key=key,
            workflow_id=workflow_id,
            kind=kind,
            name=name,
            payload=payload,
            created_at=utcnow(),
            available_at=utcnow(),
            attempts=0,
        )
        .on_conflict_do_nothing(index_elements=[col(RunOutboxMessage.key)])
        .returning(col(RunOutboxMessage.id))
    )
    return (await session.exec(stmt)).first() is not None  # type: ignore[call-overload]


# Signals the relay knows (billflow/runs/outbox_relay.py: SIGNALS).
PAYMENT_RECORDED = "payment_recorded"  # the payment and the invoice's new status are in PostgreSQL already
PAYMENT_RECEIVED = "payment_received"  # the run records it (a payment the database refused, e.g. its currency)


async def enqueue_signal(session: AsyncSession, *, workflow_id: str, name: str, payload: BaseModel, key: str) -> bool:
    """A signal for the relay, in the caller's transaction: committed with the fact it announces, or not at all."""
    return await enqueue(
        session, key=key, workflow_id=workflow_id, kind=SIGNAL, name=name, payload=payload.model_dump(mode="json")
    )


# The oldest undelivered message of each workflow, unless an older one of the same workflow is still owed (being
# delivered by another relay, or waiting for its retry): so every workflow gets its messages in order.
_HEADS = text(
    """
    SELECT id FROM run_outbox o
    WHERE o.delivered_at IS NULL
      AND o.available_at <= :now
      AND NOT EXISTS (
        SELECT 1 FROM run_outbox e
        WHERE e.workflow_id = o.workflow_id AND e.delivered_at IS NULL AND e.id < o.id
      )
    ORDER BY o.id
    LIMIT :limit
    FOR UPDATE SKIP LOCKED
    """
)


async def claim_heads(session: AsyncSession, *, limit: int) -> list[RunOutboxMessage]:
    """Lock the next message of up to `limit` workflows (oldest first) until the caller's transaction ends."""
    rows = await session.execute(_HEADS, {"limit": limit, "now": utcnow()})
    ids = [row[0] for row in rows]
    if not ids:
        return []
    query = select(RunOutboxMessage).where(col(RunOutboxMessage.id).in_(ids)).order_by(col(RunOutboxMessage.id))
    return list((await session.exec(query)).all())


def mark_delivered(message: RunOutboxMessage, *, note: str | None = None) -> None:
    message.delivered_at = utcnow()
    message.attempts += 1
    message.last_error = note


def mark_failed(message: RunOutboxMessage, *, error: str, retry_at: datetime) -> None:
    message.attempts += 1
    message.last_error = error[:1000]
    message.available_at = retry_at


async def pending(session: AsyncSession, *, workflow_id: str | None = None) -> list[RunOutboxMessage]:
    query = select(RunOutboxMessage).where(col(RunOutboxMessage.delivered_at).is_(None))
    if workflow_id is not None:
        query = query.where(RunOutboxMessage.workflow_id == workflow_id)
    return list((await session.exec(query.order_by(col(RunOutboxMessage.id)))).all())


async def list_messages(session: AsyncSession, *, workflow_id: str) -> list[RunOutboxMessage]:
    query = select(RunOutboxMessage).where(RunOutboxMessage.workflow_id == workflow_id)
    return list((await session.exec(query.order_by(col(RunOutboxMessage.id)))).all())
