"""The service catalog: prices of booked event types, managed by the API and `billflow catalog`."""

from __future__ import annotations

from billflow.db import Database
from billflow.repositories import catalog as catalog_repo
from models.service_catalog import CatalogEntryIn, CatalogEntryOut, ServiceCatalogEntry


class CatalogEntryNotFound(LookupError):
    pass


def to_out(row: ServiceCatalogEntry) -> CatalogEntryOut:
    return CatalogEntryOut.model_validate(row, from_attributes=True)


async def add_entry(db: Database, entry: CatalogEntryIn) -> CatalogEntryOut:
    """Add an event type's price, or replace the existing one (same event type)."""
    async with db.session() as session:
        return to_out(await catalog_repo.upsert_entry(session, entry=entry))


async def list_entries(db: Database) -> list[CatalogEntryOut]:
    async with db.session() as session:
        return [to_out(row) for row in await catalog_repo.list_entries(session)]


async def get_entry(db: Database, event_type: str) -> CatalogEntryOut:
    async with db.session() as session:
        row = await catalog_repo.get_entry(session, event_type=event_type)
    if row is None:
        raise CatalogEntryNotFound(f"no catalog entry for event type {event_type!r}")
    return to_out(row)


async def remove_entry(db: Database, event_type: str) -> None:
    async with db.session() as session:
        if not await catalog_repo.delete_entry(session, event_type=event_type):
            raise CatalogEntryNotFound(f"no catalog entry for event type {event_type!r}")
