"""Queries on booking-system integrations."""

from __future__ import annotations

from collections.abc import Sequence

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models.columns import utcnow
from models.integrations import Integration


async def add_integration(session: AsyncSession, *, integration: Integration) -> Integration:
    session.add(integration)
    await session.flush()
    return integration


async def get_integration(session: AsyncSession, *, name: str) -> Integration | None:
    return (await session.exec(select(Integration).where(Integration.name == name))).first()


async def list_integrations(session: AsyncSession) -> Sequence[Integration]:
    return (await session.exec(select(Integration).order_by(col(Integration.id)))).all()


async def replace_secret(session: AsyncSession, *, integration: Integration, secret: str) -> Integration:
    integration.secret = secret
    integration.secret_rotated_at = utcnow()
    session.add(integration)
    await session.flush()
    return integration
