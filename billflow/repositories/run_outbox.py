"""The outbox to Temporal: written in the caller's transaction, read and marked by the relay."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel
from sqlalchemy import text
from sqlalchemy.dialects.postgresql import insert
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models.columns import DEFAULT_WORKSPACE_ID, utcnow
from models.run_outbox import RunOutboxMessage

SIGNAL = "signal"
START = "start"


async def enqueue(
    session: AsyncSession,
    *,
    key: str,
    workflow_id: str,
    kind: str,
    name: str,
    payload: dict[str, Any],
    workspace_id: int = DEFAULT_WORKSPACE_ID,
) -> bool:
    """Add a message once per key, in the caller's transaction: it is relayed only if that transaction commits.
    True if it was new."""
    stmt = (
        insert(RunOutboxMessage)
        .values(
            key=key,
            workflow_id=workflow_id,
            workspace_id=workspace_id,
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
PAUSE_REMINDERS = "pause_reminders"  # a paused client's new invoice starts paused
VOID = "void"  # a cancelled booking's unpaid invoice

# Starts the relay knows (billflow/runs/outbox_relay.py: STARTS).
INVOICE_RUN = "invoice"  # an issued invoice's run: payload {"input": InvoiceWorkflowInput, "task_queue": ...}


async def enqueue_signal(
    session: AsyncSession,
    *,
    workflow_id: str,
    name: str,
    payload: BaseModel,
    key: str,
    workspace_id: int = DEFAULT_WORKSPACE_ID,
) -> bool:
    """A signal for the relay, in the caller's transaction: committed with the fact it announces, or not at all."""
    return await enqueue(
        session,
        key=key,
        workflow_id=workflow_id,
        kind=SIGNAL,
        name=name,
        payload=payload.model_dump(mode="json"),
        workspace_id=workspace_id,
    )


async def enqueue_start(
    session: AsyncSession, *, workflow_id: str, name: str, payload: dict[str, Any], workspace_id: int
) -> bool:
    """A workflow start for the relay, once per workflow id (its key), before any signal to the same run."""
    return await enqueue(
        session,
        key=f"start:{workflow_id}",
        workflow_id=workflow_id,
        kind=START,
        name=name,
        payload=payload,
        workspace_id=workspace_id,
    )


# The oldest undelivered message of each workflow, unless an older one of the same workflow is still owed (being
# delivered by another relay, or waiting for its retry): so every workflow gets its messages in order. Taken in
# turns over workspaces (each one's oldest first, then each one's second, ...): a workspace's burst of thousands
# of messages cannot hold back another's one (fair share, issue 13). Each workspace's scan stops at `limit`.
_HEADS = text(
    """
    SELECT m.id FROM run_outbox m
    WHERE m.delivered_at IS NULL
      AND m.id IN (
        SELECT h.id FROM (
          SELECT DISTINCT workspace_id FROM run_outbox WHERE delivered_at IS NULL
        ) w
        CROSS JOIN LATERAL (
          SELECT o.id, row_number() OVER (ORDER BY o.id) AS turn FROM (
            SELECT o.id FROM run_outbox o
            WHERE o.workspace_id = w.workspace_id
              AND o.delivered_at IS NULL
              AND o.available_at <= :now
              AND NOT EXISTS (
                SELECT 1 FROM run_outbox e
                WHERE e.workflow_id = o.workflow_id AND e.delivered_at IS NULL AND e.id < o.id
              )
            ORDER BY o.id
            LIMIT :limit
          ) o
        ) h
        ORDER BY h.turn, h.id
        LIMIT :limit
      )
    ORDER BY m.id
    FOR UPDATE SKIP LOCKED
    """
)


async def claim_heads(session: AsyncSession, *, limit: int) -> list[RunOutboxMessage]:
    """Lock the next message of up to `limit` workflows (in turns over workspaces, oldest first within each)
    until the caller's transaction ends."""
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
