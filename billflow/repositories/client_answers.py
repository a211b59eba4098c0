"""Queries on the answers clients send from the invoice page."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func
from sqlalchemy.dialects.postgresql import insert
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models.collections import ClientAnswer
from models.columns import utcnow


async def insert_answer_once(
    session: AsyncSession, *, invoice_id: int, answer_id: str, kind: str, payload: dict[str, Any]
) -> bool:
    """True if this answer is new; a repeated answer id inserts nothing."""
    stmt = (
        insert(ClientAnswer)
        .values(invoice_id=invoice_id, answer_id=answer_id, kind=kind, payload=payload)
        .values(outcome="pending", created_at=utcnow())
        .on_conflict_do_nothing(index_elements=["answer_id"])
        .returning(col(ClientAnswer.id))
    )
    return (await session.execute(stmt)).first() is not None


async def get_answer(session: AsyncSession, *, answer_id: str) -> ClientAnswer | None:
    return (await session.exec(select(ClientAnswer).where(ClientAnswer.answer_id == answer_id))).first()


async def count_answers_since(session: AsyncSession, *, invoice_id: int, since: datetime) -> int:
    query = select(func.count()).where(ClientAnswer.invoice_id == invoice_id, col(ClientAnswer.created_at) >= since)
    return int((await session.exec(query)).one())


async def set_outcome(session: AsyncSession, *, answer_id: str, outcome: str) -> None:
    answer = await get_answer(session, answer_id=answer_id)
    if answer is not None:
        answer.outcome = outcome
        session.add(answer)
