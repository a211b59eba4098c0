"""A hand-made invoice: an existing or new client, lines typed or taken from the catalog, taxes, terms.

The form carries a booking id chosen when it was shown, so submitting it twice starts one workflow, not two.
"""

from __future__ import annotations

import re
import uuid
from datetime import timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError

from billflow.db import Database
from billflow.services import catalog as catalog_service
from billflow.services import clients as clients_service
from billflow.services import invoice_list, workspaces
from billflow.services.users import UserOut
from billflow.web.deps import DatabaseDep, SettingsDep, TemporalDep
from billflow.web.pages import forms
from billflow.web.pages.rendering import flash, redirect, render
from billflow.web.sessions import StaffUser
from models.service_catalog import CatalogEntryOut as CatalogChoice
from models.workflow_io import BookingIn, ClientIn, LineIn

router = APIRouter(prefix="/app/invoices", include_in_schema=False)

LINE_ROWS = 5
_KEY = re.compile(r"^[A-Za-z0-9._:@-]{1,120}$")


async def _choices(db: DatabaseDep, workspace_id: int) -> tuple[list[Any], list[CatalogChoice]]:
    """The workspace's clients and catalog: the only ones a hand-made invoice of its staff may use."""
    async with db.session() as session:
        clients = await clients_service.list_clients(session, limit=200, workspace_id=workspace_id)
    catalog = await catalog_service.list_entries(db, workspace_id=workspace_id)
    return clients, catalog


async def _form(
    request: Request,
    db: DatabaseDep,
    user: UserOut,
    *,
    status_code: int = 200,
    errors: dict[str, str] | None = None,
    values: dict[str, str] | None = None,
) -> HTMLResponse:
    clients, catalog = await _choices(db, user.workspace_id)
    defaults = await _defaults(db, user.workspace_id)
    values = values or {
        "booking_id": uuid.uuid4().hex,
        "currency": defaults.currency,
        "terms_days": str(defaults.payment_terms_days),
        "client_timezone": "UTC",
    }
    return render(
        request,
        "invoice_new.html",
        status_code=status_code,
        user=user,
        clients=clients,
        catalog=catalog,
        rows=range(1, LINE_ROWS + 1),
        errors=errors or {},
        values=values,
        defaults=defaults,
    )


async def _defaults(db: Database, workspace_id: int) -> workspaces.InvoiceDefaults:
    """The signed-in user's workspace's currency and terms."""
    async with db.session() as session:
        return await workspaces.invoice_defaults(session, workspace_id=workspace_id)


@router.get("/new", response_class=HTMLResponse)
async def new_form(request: Request, db: DatabaseDep, user: StaffUser) -> HTMLResponse:
    return await _form(request, db, user)


def percent_to_bp(field: str, text: str) -> int:
    if not text.strip():
        return 0
    try:
        value = Decimal(text.strip().rstrip("%").strip())
    except InvalidOperation:
        raise forms.FieldError(field, "a tax rate in percent, e.g. 20 or 7.7") from None
    if not value.is_finite() or value < 0 or value > 100 or value * 100 != int(value * 100):
        raise forms.FieldError(field, "a tax rate from 0 to 100 %, at most 2 decimals")
    return int(value * 100)


def _booking(
    data: dict[str, str],
    clients: list[Any],
    catalog: list[CatalogChoice],
    defaults: workspaces.InvoiceDefaults,
    *,
    workspace_id: int,
) -> BookingIn:
    """The form as a booking; FieldError names the first bad field. An empty currency or payment terms field
    takes the workspace's default."""
    currency = data.get("currency", "").strip().upper() or defaults.currency
    if not (len(currency) == 3 and currency.isalpha()):
        raise forms.FieldError("currency", "a 3-letter ISO 4217 code, e.g. EUR")
    chosen = data.get("client", "")
    if chosen:
        match = next((c for c in clients if c.external_id == chosen), None)
        if match is None:
            raise forms.FieldError("client", "choose a client from the list, or leave it empty and enter a new one")
        client = {
            "external_id": match.external_id,
            "name": match.name,
            "email": match.email,
            "timezone": match.timezone,
        }
    else:
        email = data.get("client_email", "").strip()
        if not data.get("client_name", "").strip():
            raise forms.FieldError("client_name", "enter the client's name (or choose an existing client)")
        if not email:
            raise forms.FieldError("client_email", "enter the client's email address")
        external = email.lower() if _KEY.match(email.lower()) else f"app-{uuid.uuid4().hex[:12]}"
        client = {
            "external_id": external,
            "name": data["client_name"].strip(),
            "email": email,
            "timezone": data.get("client_timezone", "UTC").strip() or "UTC",
        }
    try:
        client_in = ClientIn.model_validate(client)
    except ValidationError as err:
        field = {"email": "client_email", "timezone": "client_timezone", "name": "client_name"}.get(
            str(err.errors()[0]["loc"][0]), "client_name"
        )
        raise forms.FieldError(field, err.errors()[0]["msg"]) from None
    lines = []
    by_type = {c.event_type: c for c in catalog}
    for i in range(1, LINE_ROWS + 1):
        item = data.get(f"line{i}_catalog", "")
        description = data.get(f"line{i}_description", "").strip()
        price_text = data.get(f"line{i}_price", "").strip()
        if not (item or description or price_text):
            continue
        entry = by_type.get(item) if item else None
        if item and entry is None:
            raise forms.FieldError(f"line{i}_catalog", "choose a service from the catalog")
        if entry is not None and entry.currency != currency:
            raise forms.FieldError(f"line{i}_catalog", f"this service is priced in {entry.currency}, not {currency}")
        description = description or (entry.service_name if entry else "")
        if not description:
            raise forms.FieldError(f"line{i}_description", "describe the line")
        if price_text:
            price = forms.amount_minor(f"line{i}_price", price_text, currency)
        elif entry is not None:
            price = entry.unit_price_minor
        else:
            raise forms.FieldError(f"line{i}_price", "enter the unit price")
        tax_text = data.get(f"line{i}_tax", "")
        tax = percent_to_bp(f"line{i}_tax", tax_text) if tax_text.strip() or entry is None else entry.tax_rate_bp
        try:
            quantity = Decimal(data.get(f"line{i}_quantity", "1").strip() or "1")
            lines.append(
                LineIn(description=description[:500], quantity=quantity, unit_price_minor=price, tax_rate_bp=tax)
            )
        except (InvalidOperation, ValidationError):
            raise forms.FieldError(f"line{i}_quantity", "a quantity above 0 with at most 3 decimals") from None
    if not lines:
        raise forms.FieldError("line1_description", "add at least one line")
    terms = forms.whole_number("terms_days", data.get("terms_days", ""), low=0, high=366)
    terms = defaults.payment_terms_days if terms is None else terms
    booking_id = data.get("booking_id", "")
    if not re.fullmatch(r"[0-9a-f]{32}", booking_id):
        booking_id = uuid.uuid4().hex
    try:
        return BookingIn(
            source="app",
            booking_id=booking_id,
            client=client_in,
            lines=lines,
            currency=currency,
            payment_terms=timedelta(days=terms),
            memo=data.get("memo", "").strip()[:2000] or None,
            workspace_id=workspace_id,  # the invoice, its client and its number are the user's workspace's
        )
    except ValidationError as err:
        raise forms.FieldError("currency", err.errors()[0]["msg"]) from None


@router.post("/new", response_class=HTMLResponse)
async def create(
    request: Request, db: DatabaseDep, temporal: TemporalDep, settings: SettingsDep, user: StaffUser
) -> Response:
    form = await request.form()
    data = forms.form_text(form)
    clients, catalog = await _choices(db, user.workspace_id)
    try:
        booking = _booking(
            data, clients, catalog, await _defaults(db, user.workspace_id), workspace_id=user.workspace_id
        )
    except forms.FieldError as err:
        return await _form(request, db, user, status_code=422, errors={err.field: err.message}, values=data)
    invoice = await invoice_list.create_by_hand(db, settings, booking)
    flash(request, f"Invoice {invoice.number} created for {booking.client.name}.")
    return redirect(f"/app/invoices/{invoice.number}")
