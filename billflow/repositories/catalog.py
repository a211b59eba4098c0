"""Queries on the service catalog."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import delete
from sqlalchemy.dialects.postgresql import insert
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models.columns import utcnow
from models.service_catalog import CatalogEntryIn, ServiceCatalogEntry


async def upsert_entry(session: AsyncSession, *, workspace_id: int, entry: CatalogEntryIn) -> ServiceCatalogEntry:
    """Add the event type's entry in the workspace, or replace its price and name; returns the stored row."""
    now = utcnow()
    stmt = insert(ServiceCatalogEntry).values(
        **entry.model_dump(), workspace_id=workspace_id, created_at=now, updated_at=now
    )
    upsert = stmt.on_conflict_do_update(
        index_elements=[col(ServiceCatalogEntry.workspace_id), col(ServiceCatalogEntry.event_type)],
        set_={
            "service_name": stmt.excluded.service_name,
            "unit_price_minor": stmt.excluded.unit_price_minor,
            "currency": stmt.excluded.currency,
            "tax_rate_bp": stmt.excluded.tax_rate_bp,
            "updated_at": stmt.excluded.updated_at,
        },
    ).returning(col(ServiceCatalogEntry.id))
    entry_id = (await session.exec(upsert)).scalar_one()  # type: ignore[call-overload]
    row = await session.get(ServiceCatalogEntry, entry_id, populate_existing=True)
    assert row is not None
    return row


async def get_entry(session: AsyncSession, *, workspace_id: int, event_type: str) -> ServiceCatalogEntry | None:
    query = select(ServiceCatalogEntry).where(
        ServiceCatalogEntry.workspace_id == workspace_id, ServiceCatalogEntry.event_type == event_type
    )
    return (await session.exec(query)).first()


async def find_entry(
    session: AsyncSession, *, workspace_id: int, event_type_id: int | None, slug: str | None
) -> ServiceCatalogEntry | None:
    """The entry for an event type: its numeric id wins over its slug (a slug can be renamed, the id cannot)."""
    for key in (str(event_type_id) if event_type_id is not None else None, slug):
        if key:
            row = await get_entry(session, workspace_id=workspace_id, event_type=key)
            if row is not None:
                return row
    return None


async def list_entries(session: AsyncSession, *, workspace_id: int) -> Sequence[ServiceCatalogEntry]:
    query = (
        select(ServiceCatalogEntry)
        .where(ServiceCatalogEntry.workspace_id == workspace_id)
        .order_by(col(ServiceCatalogEntry.event_type))
    )
    return (await session.exec(query)).all()


async def delete_entry(session: AsyncSession, *, workspace_id: int, event_type: str) -> bool:
    stmt = delete(ServiceCatalogEntry).where(
        col(ServiceCatalogEntry.workspace_id) == workspace_id, col(ServiceCatalogEntry.event_type) == event_type
    )
    result = await session.exec(stmt)  # type: ignore[call-overload]
    return bool(result.rowcount)
