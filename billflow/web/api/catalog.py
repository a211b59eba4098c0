"""/v1/catalog: the service catalog that prices Cal.com bookings (staff key)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Response, status

from billflow.services import catalog
from billflow.web.auth import AUTH_RESPONSES, StaffDep
from billflow.web.deps import DatabaseDep
from models.service_catalog import EVENT_TYPE_PATTERN, CatalogEntryIn, CatalogEntryOut

# Each key reads and writes its own workspace's catalog (issue 13).
router = APIRouter(prefix="/v1/catalog", tags=["service catalog"], responses=AUTH_RESPONSES)

EventTypePath = Annotated[str, Path(pattern=EVENT_TYPE_PATTERN, description="event type slug or numeric id")]


@router.get("", response_model=list[CatalogEntryOut], summary="List the service catalog")
async def list_entries(principal: StaffDep, db: DatabaseDep) -> list[CatalogEntryOut]:
    return await catalog.list_entries(db, workspace_id=principal.workspace_id)


@router.put(
    "/{event_type}",
    response_model=CatalogEntryOut,
    summary="Add or replace the price of an event type",
    responses={422: {"description": "Bad field, or the path and body name different event types"}},
)
async def put_entry(
    event_type: EventTypePath, entry: CatalogEntryIn, principal: StaffDep, db: DatabaseDep
) -> CatalogEntryOut:
    if entry.event_type != event_type:
        raise HTTPException(422, f"event_type: body says {entry.event_type!r}, path says {event_type!r}")
    return await catalog.add_entry(db, entry, workspace_id=principal.workspace_id)


@router.post("", response_model=CatalogEntryOut, status_code=status.HTTP_201_CREATED, summary="Add or replace")
async def add_entry(entry: CatalogEntryIn, principal: StaffDep, db: DatabaseDep) -> CatalogEntryOut:
    return await catalog.add_entry(db, entry, workspace_id=principal.workspace_id)


@router.get("/{event_type}", response_model=CatalogEntryOut, responses={404: {"description": "Unknown event type"}})
async def get_entry(event_type: EventTypePath, principal: StaffDep, db: DatabaseDep) -> CatalogEntryOut:
    try:
        return await catalog.get_entry(db, event_type, workspace_id=principal.workspace_id)
    except catalog.CatalogEntryNotFound as err:
        raise HTTPException(404, str(err)) from None


@router.delete(
    "/{event_type}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Remove an event type's price",
    responses={404: {"description": "Unknown event type"}},
)
async def remove_entry(event_type: EventTypePath, principal: StaffDep, db: DatabaseDep) -> Response:
    try:
        await catalog.remove_entry(db, event_type, workspace_id=principal.workspace_id)
    except catalog.CatalogEntryNotFound as err:
        raise HTTPException(404, str(err)) from None
    return Response(status_code=status.HTTP_204_NO_CONTENT)
