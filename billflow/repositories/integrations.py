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


async def get_integration(session: AsyncSession, *, name: str, workspace_id: int | None = None) -> Integration | None:
    """The integration by name (names are unique across workspaces); only the workspace's when it is given."""
    query = select(Integration).where(Integration.name == name)
    if workspace_id is not None:
        query = query.where(Integration.workspace_id == workspace_id)
    return (await session.exec(query)).first()


async def list_integrations(session: AsyncSession, *, workspace_id: int | None = None) -> Sequence[Integration]:
    query = select(Integration)
    if workspace_id is not None:
        query = query.where(Integration.workspace_id == workspace_id)
    return (await session.exec(query.order_by(col(Integration.id)))).all()


async def replace_secret(session: AsyncSession, *, integration: Integration, secret: str) -> Integration:
    integration.secret = secret
    integration.secret_rotated_at = utcnow()
    session.add(integration)
    await session.flush()
    return integration
