"""Queries on the stored business profile (one row per workspace key)."""

from __future__ import annotations

from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from models.business_profiles import DEFAULT_WORKSPACE, BusinessProfileRow


async def get_profile(session: AsyncSession, *, workspace: str = DEFAULT_WORKSPACE) -> BusinessProfileRow | None:
    query = select(BusinessProfileRow).where(BusinessProfileRow.workspace == workspace)
    return (await session.exec(query)).first()


async def save_profile(session: AsyncSession, *, row: BusinessProfileRow) -> BusinessProfileRow:
    session.add(row)
    await session.flush()
    return row
