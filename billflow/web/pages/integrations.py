"""Settings > Integrations (admins): booking systems that post signed events; create one, rotate its secret,
read its recent deliveries and what each was answered."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Form, Path, Query, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError

from billflow.services import integrations
from billflow.services.users import UserOut
from billflow.web import reveal
from billflow.web.deps import DatabaseDep
from billflow.web.pages.rendering import flash, redirect, render
from billflow.web.sessions import AdminUser

router = APIRouter(prefix="/app/settings", include_in_schema=False)

FormStr = Annotated[str, Form(max_length=500)]
Name = Annotated[str, Path(max_length=64)]


async def _list_page(request: Request, db: DatabaseDep, user: UserOut, **extra: Any) -> HTMLResponse:
    extra.setdefault("created", None)
    listed = await integrations.list_integrations(db, workspace_id=user.workspace_id)
    return render(request, "integrations.html", user=user, integrations=listed, **extra)


@router.get("/integrations", response_class=HTMLResponse)
async def integrations_page(request: Request, db: DatabaseDep, user: AdminUser) -> HTMLResponse:
    created = reveal.take(request, "integrations", integrations.CreatedIntegration)
    return await _list_page(request, db, user, created=created)


@router.post("/integrations", response_class=HTMLResponse)
async def create_integration(request: Request, db: DatabaseDep, user: AdminUser, name: FormStr = "") -> Response:
    try:
        new = integrations.NewIntegration(name=name.strip(), workspace_id=user.workspace_id)
        created = await integrations.create_integration(db, new)
    except ValidationError as err:
        msg = err.errors()[0]["msg"]
        return await _list_page(request, db, user, status_code=422, errors={"name": msg}, values={"name": name})
    except integrations.IntegrationExists as err:
        return await _list_page(request, db, user, status_code=409, errors={"name": str(err)}, values={"name": name})
    # POST-redirect-GET: the secret is shown once by the GET, so a reload cannot create or re-post.
    reveal.stash(request, "integrations", created)
    return redirect("/app/settings/integrations")


async def _detail_page(
    request: Request, db: DatabaseDep, user: UserOut, name: str, *, before: int | None = None, **extra: Any
) -> Response:
    try:
        page = await integrations.recent_deliveries(db, name, before_id=before, workspace_id=user.workspace_id)
    except integrations.IntegrationNotFound as err:
        flash(request, str(err), kind="error")
        return redirect("/app/settings/integrations")
    extra.setdefault("rotated", None)
    return render(request, "integration.html", user=user, page=page, before=before, **extra)


@router.get("/integrations/{name}", response_class=HTMLResponse)
async def integration_page(
    request: Request,
    db: DatabaseDep,
    user: AdminUser,
    name: Name,
    before: Annotated[int | None, Query(ge=1, le=2**62, description="older than this delivery")] = None,
) -> Response:
    rotated = reveal.take(request, f"integration:{name}", integrations.CreatedIntegration)
    return await _detail_page(request, db, user, name, before=before, rotated=rotated)


@router.post("/integrations/{name}/rotate", response_class=HTMLResponse)
async def rotate_secret(request: Request, db: DatabaseDep, user: AdminUser, name: Name) -> Response:
    try:
        rotated = await integrations.rotate_secret(db, name, workspace_id=user.workspace_id)
    except integrations.IntegrationNotFound as err:
        flash(request, str(err), kind="error")
        return redirect("/app/settings/integrations")
    # POST-redirect-GET: a reload of the page shows the deliveries, it does not rotate again.
    reveal.stash(request, f"integration:{name}", rotated)
    return redirect(f"/app/settings/integrations/{quote(name, safe='')}")
