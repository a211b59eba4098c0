"""Settings for admins: the service catalog (what a booked event type costs)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Path, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError

from billflow.services import catalog as catalog_service
from billflow.services.users import UserOut
from billflow.web.deps import DatabaseDep
from billflow.web.pages import forms
from billflow.web.pages.new_invoice import percent_to_bp
from billflow.web.pages.rendering import flash, redirect, render
from billflow.web.sessions import AdminUser
from models.service_catalog import CatalogEntryIn

router = APIRouter(prefix="/app/settings", include_in_schema=False)

FormStr = Annotated[str, Form(max_length=500)]


async def _page(request: Request, db: DatabaseDep, user: UserOut, **extra: Any) -> HTMLResponse:
    return render(
        request,
        "catalog.html",
        user=user,
        entries=await catalog_service.list_entries(db, workspace_id=user.workspace_id),
        **extra,
    )


@router.get("/catalog", response_class=HTMLResponse)
async def catalog_page(request: Request, db: DatabaseDep, user: AdminUser) -> HTMLResponse:
    return await _page(request, db, user)


@router.post("/catalog", response_class=HTMLResponse)
async def add_entry(
    request: Request,
    db: DatabaseDep,
    user: AdminUser,
    event_type: FormStr = "",
    service_name: FormStr = "",
    price: FormStr = "",
    currency: FormStr = "",
    tax: FormStr = "",
) -> Response:
    values = {"event_type": event_type, "service_name": service_name, "price": price, "currency": currency, "tax": tax}
    code = currency.strip().upper()
    try:
        if not (len(code) == 3 and code.isalpha()):
            raise forms.FieldError("currency", "a 3-letter ISO 4217 code, e.g. EUR")
        minor = forms.amount_minor("price", price, code)
        entry = CatalogEntryIn(
            event_type=event_type.strip(),
            service_name=service_name.strip(),
            unit_price_minor=minor or 0,
            currency=code,
            tax_rate_bp=percent_to_bp("tax", tax),
        )
    except forms.FieldError as err:
        return await _page(request, db, user, status_code=422, errors={err.field: err.message}, values=values)
    except ValidationError as err:
        field = str(err.errors()[0]["loc"][0]) if err.errors()[0]["loc"] else "event_type"
        field = {"unit_price_minor": "price", "tax_rate_bp": "tax"}.get(field, field)
        return await _page(request, db, user, status_code=422, errors={field: err.errors()[0]["msg"]}, values=values)
    saved = await catalog_service.add_entry(db, entry, workspace_id=user.workspace_id)
    flash(request, f"Catalog: {saved.event_type} costs {saved.unit_price_minor} {saved.currency} (minor units).")
    return redirect("/app/settings/catalog")


@router.post("/catalog/{event_type}/remove")
async def remove_entry(
    request: Request, db: DatabaseDep, user: AdminUser, event_type: Annotated[str, Path(max_length=120)]
) -> Response:
    try:
        await catalog_service.remove_entry(db, event_type, workspace_id=user.workspace_id)
        flash(request, f"Catalog entry {event_type} removed.")
    except catalog_service.CatalogEntryNotFound as err:
        flash(request, str(err), kind="error")
    return redirect("/app/settings/catalog")
