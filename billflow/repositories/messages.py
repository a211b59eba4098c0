from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import bindparam, text
from sqlalchemy.dialects.postgresql import insert
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models.email_messages import EmailMessage
from models.enums import MessageStatus


async def claim_message(session: AsyncSession, *, message: EmailMessage) -> EmailMessage:
    """Insert the message under its idempotency key, or return the row a previous attempt claimed."""
    values = message.model_dump(exclude={"id"})
    stmt = (
        insert(EmailMessage).values(**values).on_conflict_do_nothing(index_elements=[col(EmailMessage.idempotency_key)])
    )
    await session.exec(stmt)  # type: ignore[call-overload]
    claimed = await get_message(session, idempotency_key=message.idempotency_key, for_update=True)
    assert claimed is not None
    return claimed


async def get_message(
    session: AsyncSession,
    *,
    message_id: int | None = None,
    idempotency_key: str | None = None,
    provider_message_id: str | None = None,
    for_update: bool = False,
) -> EmailMessage | None:
    query = select(EmailMessage)
    if message_id is not None:
        query = query.where(EmailMessage.id == message_id)
    if idempotency_key is not None:
        query = query.where(EmailMessage.idempotency_key == idempotency_key)
    if provider_message_id is not None:
        query = query.where(EmailMessage.provider_message_id == provider_message_id)
    if for_update:
        query = query.with_for_update()
    return (await session.exec(query)).first()


async def list_messages(
    session: AsyncSession, *, invoice_id: int | None = None, limit: int = 50
) -> Sequence[EmailMessage]:
    query = select(EmailMessage)
    if invoice_id is not None:
        query = query.where(EmailMessage.invoice_id == invoice_id)
    return (await session.exec(query.order_by(col(EmailMessage.id).desc()).limit(limit))).all()


# Handed to the provider with no answer recorded: `unknown`, or `claimed` by an attempt that never finished.
UNSETTLED = (MessageStatus.unknown, MessageStatus.claimed)


# Unsettled messages of a backend handed over before an instant: ranked within each workspace, oldest first, and
# taken in turns over workspaces (each one's oldest, then each one's second, ...), so one workspace's thousands
# of unsettled messages cannot keep another's one out of a sweep (fair share, issue 13).
_UNSETTLED_IN_TURNS = text(
    """
    SELECT id FROM (
      SELECT id, updated_at, row_number() OVER (PARTITION BY workspace_id ORDER BY updated_at, id) AS turn
      FROM email_messages
      WHERE status IN :statuses AND attempts > 0 AND backend = :backend AND updated_at < :before
    ) ranked
    WHERE turn <= :limit
    ORDER BY turn, updated_at, id
    LIMIT :limit
    """
).bindparams(bindparam("statuses", expanding=True))


async def unsettled_in_turns(
    session: AsyncSession, *, backend: str, handed_over_before: datetime, limit: int
) -> list[int]:
    """The ids of up to `limit` unsettled messages of a backend, in turns over workspaces (not locked)."""
    params = {
        "statuses": [s.value for s in UNSETTLED],
        "backend": backend,
        "before": handed_over_before,
        "limit": limit,
    }
    return [row[0] for row in await session.execute(_UNSETTLED_IN_TURNS, params)]


async def lock_unsettled(
    session: AsyncSession, *, message_id: int, backend: str, handed_over_before: datetime
) -> EmailMessage | None:
    """The message, locked for this sweep, if it is still unsettled (None when settled meanwhile, or locked by a
    concurrent sweep)."""
    query = (
        select(EmailMessage)
        .where(
            EmailMessage.id == message_id,
            col(EmailMessage.status).in_([s.value for s in UNSETTLED]),
            EmailMessage.attempts > 0,
            EmailMessage.backend == backend,
            EmailMessage.updated_at < handed_over_before,
        )
        .with_for_update(skip_locked=True)
    )
    return (await session.exec(query)).first()
