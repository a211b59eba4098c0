"""Staff API for client records: list and search, detail, timeline, notes, per-client reminder settings."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Query, status
from pydantic import BaseModel, Field

from billflow.services import client_documents
from billflow.services import clients as clients_service
from billflow.services.client_documents import DocumentSettings, DocumentSettingsChange
from billflow.services.clients import (
    AmbiguousClient,
    ClientDetail,
    ClientNotFound,
    ClientSummary,
    ReminderSettings,
    ReminderSettingsChange,
    SettingsOutcome,
    TimelineEntry,
)
from billflow.web.auth import AUTH_RESPONSES, StaffDep, ViewerDep
from billflow.web.deps import DatabaseDep, SessionDep, TemporalDep
from billflow.web.reporting_zone import ZoneDep

router = APIRouter(prefix="/v1/clients", tags=["clients"], responses=AUTH_RESPONSES)

# PostgreSQL text cannot hold NUL: refuse it at the edge (422) rather than fail in the driver.
NO_NUL = r"^[^\x00]*$"
ExternalId = Annotated[
    str, Path(min_length=1, max_length=200, pattern=NO_NUL, description="the booking system's client id")
]
Source = Annotated[
    str | None,
    Query(
        max_length=80,
        pattern=NO_NUL,
        description='whose client ("staff", "integration:{name}"); needed only when several sources use the id',
    ),
]
NOT_FOUND: dict[int | str, dict[str, object]] = {
    404: {"description": "No client with this external id"},
    409: {"description": "Several sources use this external id: give `source`"},
}


class NoteIn(BaseModel):
    text: str = Field(
        min_length=1, max_length=2000, pattern=NO_NUL, examples=["Called: paying next Friday after payroll."]
    )


def _not_found(err: ClientNotFound | AmbiguousClient) -> HTTPException:
    if isinstance(err, AmbiguousClient):
        return HTTPException(status.HTTP_409_CONFLICT, str(err))
    return HTTPException(status.HTTP_404_NOT_FOUND, str(err))


@router.get("", summary="List and search clients, with their balances per currency")
async def list_clients(
    session: SessionDep,
    principal: ViewerDep,
    zone: ZoneDep,
    q: Annotated[
        str | None, Query(max_length=200, pattern=NO_NUL, description="matches name, email or external id")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> list[ClientSummary]:
    return await clients_service.list_clients(
        session,
        query=q,
        limit=limit,
        offset=offset,
        zone=zone,
        workspace_id=principal.workspace_id,
    )


@router.get("/{external_id}", summary="Client detail: contact, balances, invoices, payments", responses=NOT_FOUND)
async def client_detail(
    session: SessionDep,
    principal: ViewerDep,
    zone: ZoneDep,
    external_id: ExternalId,
    limit: Annotated[int, Query(ge=1, le=500, description="most recent invoices and payments")] = 100,
    source: Source = None,
) -> ClientDetail:
    try:
        return await clients_service.client_detail(
            session,
            external_id,
            limit=limit,
            source=source,
            zone=zone,
            workspace_id=principal.workspace_id,
        )
    except (ClientNotFound, AmbiguousClient) as err:
        raise _not_found(err) from err


@router.get(
    "/{external_id}/timeline",
    summary="Merged timeline: invoices, payments, emails and their events, staff notes (newest first)",
    responses=NOT_FOUND,
)
async def client_timeline(
    session: SessionDep,
    principal: ViewerDep,
    external_id: ExternalId,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
    source: Source = None,
) -> list[TimelineEntry]:
    try:
        return await clients_service.client_timeline(
            session, external_id, limit=limit, source=source, workspace_id=principal.workspace_id
        )
    except (ClientNotFound, AmbiguousClient) as err:
        raise _not_found(err) from err


@router.post(
    "/{external_id}/notes",
    status_code=status.HTTP_201_CREATED,
    summary="Add a staff note to the client's timeline",
    responses=NOT_FOUND,
)
async def add_note(
    db: DatabaseDep, principal: StaffDep, external_id: ExternalId, note: NoteIn, source: Source = None
) -> TimelineEntry:
    try:
        async with db.session() as session:  # committed before the answer
            return await clients_service.add_note(
                session,
                external_id,
                text=note.text,
                author=principal.actor,
                source=source,
                workspace_id=principal.workspace_id,
            )
    except (ClientNotFound, AmbiguousClient) as err:
        raise _not_found(err) from err
    except ValueError as err:
        raise HTTPException(422, [{"loc": ["body", "text"], "msg": str(err), "type": "value_error"}]) from err


@router.get("/{external_id}/settings", summary="The client's reminder settings", responses=NOT_FOUND)
async def get_settings(
    session: SessionDep, principal: ViewerDep, external_id: ExternalId, source: Source = None
) -> ReminderSettings:
    try:
        client = await clients_service.require_client(
            session, external_id, source=source, workspace_id=principal.workspace_id
        )
    except (ClientNotFound, AmbiguousClient) as err:
        raise _not_found(err) from err
    assert client.id is not None
    return await clients_service.reminder_settings(session, client.id)


@router.patch(
    "/{external_id}/settings",
    summary="Change the client's reminder settings (pausing signals every open invoice of the client)",
    responses=NOT_FOUND,
)
async def change_settings(
    db: DatabaseDep,
    temporal: TemporalDep,
    principal: StaffDep,
    external_id: ExternalId,
    change: ReminderSettingsChange,
    source: Source = None,
) -> SettingsOutcome:
    try:
        return await clients_service.update_reminder_settings(
            db,
            temporal,
            external_id,
            change,
            actor=principal.actor,
            source=source,
            workspace_id=principal.workspace_id,
        )
    except (ClientNotFound, AmbiguousClient) as err:
        raise _not_found(err) from err


@router.get(
    "/{external_id}/documents",
    summary="The document format the client receives and its buyer reference (Leitweg-ID)",
    responses=NOT_FOUND,
)
async def get_document_settings(session: SessionDep, principal: ViewerDep, external_id: ExternalId) -> DocumentSettings:
    try:
        return await client_documents.document_settings(session, external_id, workspace_id=principal.workspace_id)
    except ClientNotFound as err:
        raise _not_found(err) from err


@router.patch(
    "/{external_id}/documents",
    summary="Choose the format the client receives: pdf, facturx, xrechnung (needs a buyer reference) or peppol",
    responses=NOT_FOUND,
)
async def change_document_settings(
    db: DatabaseDep, principal: StaffDep, external_id: ExternalId, change: DocumentSettingsChange
) -> DocumentSettings:
    try:
        async with db.session() as session:
            return await client_documents.update_document_settings(
                session, external_id, change, workspace_id=principal.workspace_id
            )
    except ClientNotFound as err:
        raise _not_found(err) from err
    except client_documents.DocumentSettingsRefused as err:
        raise HTTPException(422, [{"loc": ["body", err.field], "msg": str(err), "type": "value_error"}]) from err
