"""Queries on staff API keys."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import or_, update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models.api_keys import ApiKey


async def add_key(session: AsyncSession, *, key: ApiKey) -> ApiKey:
    session.add(key)
    await session.flush()
    return key


async def get_key(
    session: AsyncSession, *, key_id: str, workspace_id: int | None = None, for_update: bool = False
) -> ApiKey | None:
    query = select(ApiKey).where(ApiKey.key_id == key_id)
    if workspace_id is not None:
        query = query.where(ApiKey.workspace_id == workspace_id)
    if for_update:
        query = query.with_for_update()
    return (await session.exec(query)).first()


async def list_keys(
    session: AsyncSession, *, include_revoked: bool = True, workspace_id: int | None = None
) -> Sequence[ApiKey]:
    query = select(ApiKey)
    if workspace_id is not None:
        query = query.where(ApiKey.workspace_id == workspace_id)
    if not include_revoked:
        query = query.where(col(ApiKey.revoked_at).is_(None))
    return (await session.exec(query.order_by(col(ApiKey.id)))).all()


async def revoke_key(
    session: AsyncSession, *, key_id: str, at: datetime, workspace_id: int | None = None
) -> ApiKey | None:
    key = await get_key(session, key_id=key_id, workspace_id=workspace_id, for_update=True)
    if key is not None and key.revoked_at is None:
        key.revoked_at = at
        session.add(key)
        await session.flush()
    return key


async def touch_key(session: AsyncSession, *, key_id: str, at: datetime, every: timedelta) -> None:
    """Record use, at most once per `every`, so authentication does not write on every request."""
    stale = or_(col(ApiKey.last_used_at).is_(None), col(ApiKey.last_used_at) < at - every)
    await session.exec(update(ApiKey).where(col(ApiKey.key_id) == key_id, stale).values(last_used_at=at))  # type: ignore[call-overload]
