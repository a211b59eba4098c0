"""The service catalog: prices of booked event types, managed by the API and `billflow catalog`; each workspace
has its own (the CLI manages the first workspace's, the API the key's)."""

from __future__ import annotations

from billflow.db import Database
from billflow.repositories import catalog as catalog_repo
from models.columns import DEFAULT_WORKSPACE_ID
from models.service_catalog import CatalogEntryIn, CatalogEntryOut, ServiceCatalogEntry


class CatalogEntryNotFound(LookupError):
    pass


def to_out(row: ServiceCatalogEntry) -> CatalogEntryOut:
    return CatalogEntryOut.model_validate(row, from_attributes=True)


async def add_entry(
    db: Database, entry: CatalogEntryIn, *, workspace_id: int = DEFAULT_WORKSPACE_ID
) -> CatalogEntryOut:
    """Add an event type's price, or replace the existing one (same event type)."""
    async with db.session() as session:
        return to_out(await catalog_repo.upsert_entry(session, workspace_id=workspace_id, entry=entry))


async def list_entries(db: Database, *, workspace_id: int = DEFAULT_WORKSPACE_ID) -> list[CatalogEntryOut]:
    async with db.session() as session:
        return [to_out(row) for row in await catalog_repo.list_entries(session, workspace_id=workspace_id)]


async def get_entry(db: Database, event_type: str, *, workspace_id: int = DEFAULT_WORKSPACE_ID) -> CatalogEntryOut:
    async with db.session() as session:
        row = await catalog_repo.get_entry(session, workspace_id=workspace_id, event_type=event_type)
    if row is None:
        raise CatalogEntryNotFound(f"no catalog entry for event type {event_type!r}")
    return to_out(row)


async def remove_entry(db: Database, event_type: str, *, workspace_id: int = DEFAULT_WORKSPACE_ID) -> None:
    async with db.session() as session:
        if not await catalog_repo.delete_entry(session, workspace_id=workspace_id, event_type=event_type):
            raise CatalogEntryNotFound(f"no catalog entry for event type {event_type!r}")
