"""Settings > Integrations (admins): booking systems that post signed events; create one, rotate its secret,
read its recent deliveries and what each was answered."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Path, Query, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError

from billflow.services import integrations
from billflow.services.users import UserOut
from billflow.web.deps import DatabaseDep
from billflow.web.pages.rendering import flash, redirect, render
from billflow.web.sessions import AdminUser

router = APIRouter(prefix="/app/settings", include_in_schema=False)

FormStr = Annotated[str, Form(max_length=500)]
Name = Annotated[str, Path(max_length=64)]


async def _list_page(request: Request, db: DatabaseDep, user: UserOut, **extra: Any) -> HTMLResponse:
    extra.setdefault("created", None)
    listed = await integrations.list_integrations(db)
    return render(request, "integrations.html", user=user, integrations=listed, **extra)


@router.get("/integrations", response_class=HTMLResponse)
async def integrations_page(request: Request, db: DatabaseDep, user: AdminUser) -> HTMLResponse:
    return await _list_page(request, db, user)


@router.post("/integrations", response_class=HTMLResponse)
async def create_integration(request: Request, db: DatabaseDep, user: AdminUser, name: FormStr = "") -> Response:
    try:
        created = await integrations.create_integration(db, integrations.NewIntegration(name=name.strip()))
    except ValidationError as err:
        msg = err.errors()[0]["msg"]
        return await _list_page(request, db, user, status_code=422, errors={"name": msg}, values={"name": name})
    except integrations.IntegrationExists as err:
        return await _list_page(request, db, user, status_code=409, errors={"name": str(err)}, values={"name": name})
    # The signing secret is shown on this response only (never stored in the session or a redirect).
    return await _list_page(request, db, user, created=created)


async def _detail_page(
    request: Request, db: DatabaseDep, user: UserOut, name: str, *, before: int | None = None, **extra: Any
) -> Response:
    try:
        page = await integrations.recent_deliveries(db, name, before_id=before)
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
    return await _detail_page(request, db, user, name, before=before)


@router.post("/integrations/{name}/rotate", response_class=HTMLResponse)
async def rotate_secret(request: Request, db: DatabaseDep, user: AdminUser, name: Name) -> Response:
    try:
        rotated = await integrations.rotate_secret(db, name)
    except integrations.IntegrationNotFound as err:
        flash(request, str(err), kind="error")
        return redirect("/app/settings/integrations")
    return await _detail_page(request, db, user, name, rotated=rotated)
