"""/v1/workspaces: the businesses of this installation, their profiles and numbering (admin key; issue 13).

Who may see what: an admin key of the installation's first workspace manages every workspace (it created
them); an admin key of any other workspace sees and changes only its own, and other workspaces do not exist
for it (404).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, HTTPException, Path, Request, Response, status
from pydantic import BaseModel, ConfigDict

from billflow.services import workspaces
from billflow.services.api_keys import Principal
from billflow.web.auth import AUTH_RESPONSES, AdminDep
from billflow.web.deps import DatabaseDep, SecretBoxDep
from models.columns import DEFAULT_WORKSPACE_ID
from models.numbering import DocumentType, NumberingSeriesIn, NumberReset
from models.workspaces import MAX_LOGO_BYTES, WorkspaceCreate, WorkspaceOut, WorkspaceUpdate

router = APIRouter(prefix="/v1/workspaces", tags=["workspaces"], responses=AUTH_RESPONSES)

SlugPath = Annotated[str, Path(min_length=1, max_length=40, pattern=r"^[a-z0-9-]+$", examples=["acme-studio"])]
NOT_FOUND: dict[int | str, dict[str, object]] = {404: {"description": "No workspace with this slug (for this key)"}}
INVALID: dict[int | str, dict[str, object]] = {422: {"description": "A field is invalid (it is named)"}}


class NumberingIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    prefix: str = ""
    pattern: str = "{prefix}-{yyyy}-{seq:06}"
    reset: NumberReset = NumberReset.yearly


def _manages_all(principal: Principal) -> bool:
    return principal.workspace_id == DEFAULT_WORKSPACE_ID


async def _visible(db: DatabaseDep, principal: Principal, slug: str) -> workspaces.WorkspaceDetail:
    """The workspace if this key may see it; 404 alike for a missing one and another workspace's."""
    try:
        detail = await workspaces.get_workspace(db, slug)
    except workspaces.WorkspaceNotFound:
        detail = None
    if detail is None or not (_manages_all(principal) or detail.id == principal.workspace_id):
        raise HTTPException(404, f"no workspace {slug!r}")
    return detail


def _invalid(err: workspaces.WorkspaceInvalid) -> HTTPException:
    return HTTPException(422, [{"loc": ["body", err.field], "msg": err.message, "type": "value_error"}])


@router.get("", summary="List the workspaces this key may see", response_model=list[WorkspaceOut])
async def list_workspaces(principal: AdminDep, db: DatabaseDep) -> list[WorkspaceOut]:
    found = await workspaces.list_workspaces(db)
    return found if _manages_all(principal) else [w for w in found if w.id == principal.workspace_id]


@router.post(
    "",
    summary="Create a workspace (installation admins: keys of the first workspace)",
    status_code=status.HTTP_201_CREATED,
    response_model=workspaces.WorkspaceDetail,
    responses={**INVALID, 409: {"description": "The slug is taken"}},
)
async def create_workspace(
    data: WorkspaceCreate, principal: AdminDep, db: DatabaseDep, secrets: SecretBoxDep
) -> workspaces.WorkspaceDetail:
    if not _manages_all(principal):
        raise HTTPException(403, "only an admin key of the installation's first workspace creates workspaces")
    try:
        return await workspaces.create_workspace(db, data, secrets=secrets)
    except workspaces.WorkspaceInvalid as err:
        raise _invalid(err) from None
    except workspaces.WorkspaceConflict as err:
        raise HTTPException(409, str(err)) from None


@router.get(
    "/{slug}",
    summary="A workspace's profile and numbering series",
    response_model=workspaces.WorkspaceDetail,
    responses=NOT_FOUND,
)
async def get_workspace(slug: SlugPath, principal: AdminDep, db: DatabaseDep) -> workspaces.WorkspaceDetail:
    return await _visible(db, principal, slug)


@router.patch(
    "/{slug}",
    summary="Change profile fields (only those given; null clears an optional one)",
    response_model=workspaces.WorkspaceDetail,
    responses={**NOT_FOUND, **INVALID, 409: {"description": "The Stripe account is another workspace's"}},
)
async def update_workspace(
    slug: SlugPath, change: WorkspaceUpdate, principal: AdminDep, db: DatabaseDep, secrets: SecretBoxDep
) -> workspaces.WorkspaceDetail:
    await _visible(db, principal, slug)
    try:
        return await workspaces.update_workspace(db, slug, change, secrets=secrets)
    except workspaces.WorkspaceInvalid as err:
        raise _invalid(err) from None
    except workspaces.WorkspaceConflict as err:  # a Stripe account connected to another workspace
        raise HTTPException(409, str(err)) from None


@router.put(
    "/{slug}/logo",
    summary="Replace the logo printed on documents (the PNG or JPEG file as the body, at most 512 KB)",
    response_model=workspaces.WorkspaceDetail,
    responses={**NOT_FOUND, 413: {"description": "Larger than 512 KB"}, 422: {"description": "Not a PNG or JPEG"}},
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"image/png": {"schema": {"type": "string", "format": "binary"}}, "image/jpeg": {}},
        }
    },
)
async def put_logo(
    slug: SlugPath, request: Request, principal: AdminDep, db: DatabaseDep
) -> workspaces.WorkspaceDetail:
    await _visible(db, principal, slug)
    content = await request.body()
    if len(content) > MAX_LOGO_BYTES:
        raise HTTPException(413, f"logo: at most {MAX_LOGO_BYTES // 1024} KB")
    try:
        return await workspaces.update_workspace(db, slug, WorkspaceUpdate(), logo=content)
    except workspaces.WorkspaceInvalid as err:
        raise _invalid(err) from None


@router.get(
    "/{slug}/logo",
    summary="The logo",
    response_class=Response,
    responses={**NOT_FOUND, 200: {"content": {"image/png": {}, "image/jpeg": {}}, "description": "the image"}},
)
async def get_logo(slug: SlugPath, principal: AdminDep, db: DatabaseDep) -> Response:
    await _visible(db, principal, slug)
    logo = await workspaces.workspace_logo(db, slug)
    if logo is None:
        raise HTTPException(404, f"workspace {slug!r} has no logo")
    return Response(logo[0], media_type=logo[1])


@router.delete(
    "/{slug}/logo", summary="Remove the logo", response_model=workspaces.WorkspaceDetail, responses=NOT_FOUND
)
async def delete_logo(slug: SlugPath, principal: AdminDep, db: DatabaseDep) -> workspaces.WorkspaceDetail:
    await _visible(db, principal, slug)
    return await workspaces.update_workspace(db, slug, WorkspaceUpdate(), clear_logo=True)


@router.put(
    "/{slug}/numbering/{document_type}",
    summary="How the workspace numbers this document type from now on (gap-free; issued numbers keep counting)",
    response_model=workspaces.WorkspaceDetail,
    responses={**NOT_FOUND, **INVALID},
)
async def put_numbering(
    slug: SlugPath,
    document_type: DocumentType,
    principal: AdminDep,
    db: DatabaseDep,
    body: Annotated[NumberingIn, Body()],
) -> workspaces.WorkspaceDetail:
    await _visible(db, principal, slug)
    from pydantic import ValidationError

    try:
        series = NumberingSeriesIn(document_type=document_type, **body.model_dump())
    except ValidationError as err:
        detail = [{"loc": ["body", *e["loc"]], "msg": e["msg"], "type": e["type"]} for e in err.errors()]
        raise HTTPException(422, detail) from None
    return await workspaces.set_numbering(db, slug, series)
