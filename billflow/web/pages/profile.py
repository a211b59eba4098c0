"""Settings > Business profile (admins): the seller on every new document, its defaults and its logo."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError

from billflow.services import business_profile
from billflow.services.users import UserOut
from billflow.web.deps import DatabaseDep, SettingsDep
from billflow.web.pages.rendering import flash, redirect, render
from billflow.web.sessions import AdminUser, MultipartCsrf
from models.business_profiles import LOGO_MAX_BYTES, BusinessProfileIn, logo_type
from models.time_zones import IANA_TIME_ZONES

router = APIRouter(prefix="/app/settings", include_in_schema=False)

FormStr = Annotated[str, Form(max_length=1000)]
FIELDS = tuple(BusinessProfileIn.model_fields)
ZONES = sorted(IANA_TIME_ZONES)


async def _page(request: Request, db: DatabaseDep, settings: SettingsDep, user: UserOut, **extra: Any) -> HTMLResponse:
    stored = await business_profile.profile_form(db, settings)
    extra.setdefault("values", {k: "" if v is None else v for k, v in stored.items()})
    return render(request, "profile.html", user=user, stored=stored, zones=ZONES, **extra)


@router.get("/profile", response_class=HTMLResponse)
async def profile_page(request: Request, db: DatabaseDep, settings: SettingsDep, user: AdminUser) -> HTMLResponse:
    return await _page(request, db, settings, user)


@router.get("/profile/logo")
async def profile_logo(db: DatabaseDep, user: AdminUser) -> Response:
    logo = await business_profile.stored_logo(db)
    if logo is None:
        return Response(status_code=404)
    return Response(logo.content, media_type=logo.media_type, headers={"Cache-Control": "no-store"})


@router.post("/profile", response_class=HTMLResponse, dependencies=[MultipartCsrf])
async def save_profile(
    request: Request,
    db: DatabaseDep,
    settings: SettingsDep,
    user: AdminUser,
    logo: Annotated[UploadFile | None, File()] = None,
    remove_logo: FormStr = "",
) -> Response:
    form = await request.form()
    values = {name: str(form.get(name) or "") for name in FIELDS}
    errors: dict[str, str] = {}
    data: BusinessProfileIn | None = None
    try:
        data = BusinessProfileIn.model_validate(values)
    except ValidationError as err:
        for problem in err.errors():
            name = str(problem["loc"][0]) if problem["loc"] else "legal_name"
            errors.setdefault(name, problem["msg"].removeprefix("Value error, "))
    stored_logo = None
    if logo is not None and logo.filename:
        content = await logo.read(LOGO_MAX_BYTES + 1)
        try:
            stored_logo = business_profile.StoredLogo(content, logo_type(content))
        except ValueError as err:
            errors["logo"] = str(err)
    if errors or data is None:
        return await _page(request, db, settings, user, status_code=422, errors=errors, values=values)
    await business_profile.save_profile(db, data, actor=user.label, logo=stored_logo, remove_logo=remove_logo == "yes")
    flash(request, "Business profile saved: new invoices carry it.")
    return redirect("/app/settings/profile")
