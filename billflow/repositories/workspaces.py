"""Queries on workspaces."""

from __future__ import annotations

from collections.abc import Sequence

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models.workspaces import Workspace


async def add_workspace(session: AsyncSession, *, workspace: Workspace) -> Workspace:
    session.add(workspace)
    await session.flush()
    return workspace


async def get_workspace(
    session: AsyncSession, *, workspace_id: int | None = None, slug: str | None = None, for_update: bool = False
) -> Workspace | None:
    if workspace_id is None and slug is None:
        raise ValueError("a workspace is found by its id or its slug")
    query = select(Workspace)
    if workspace_id is not None:
        query = query.where(Workspace.id == workspace_id)
    if slug is not None:
        query = query.where(Workspace.slug == slug)
    if for_update:
        query = query.with_for_update()
    return (await session.exec(query)).first()


async def list_workspaces(session: AsyncSession, *, limit: int = 200, offset: int = 0) -> Sequence[Workspace]:
    return (await session.exec(select(Workspace).order_by(col(Workspace.id)).limit(limit).offset(offset))).all()


async def save_workspace(session: AsyncSession, *, workspace: Workspace) -> Workspace:
    session.add(workspace)
    await session.flush()
    return workspace


async def logo_of_invoice(session: AsyncSession, *, invoice_id: int) -> bytes | None:
    """The logo of the workspace that issued this invoice (None when it has none)."""
    from models.invoices import Invoice

    owner = select(Invoice.workspace_id).where(Invoice.id == invoice_id).scalar_subquery()
    return (await session.exec(select(Workspace.logo).where(Workspace.id == owner))).first()
