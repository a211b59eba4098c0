"""Client pages: the list with balances; the detail with invoices, payments, the merged timeline, notes and
reminder settings. Every change goes through billflow.services.clients, as the API's does."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Path, Query, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError

from billflow.services import client_contacts
from billflow.services import clients as clients_service
from billflow.services.users import UserOut
from billflow.web.deps import DatabaseDep, TemporalDep
from billflow.web.pages.rendering import flash, redirect, render
from billflow.web.sessions import StaffUser, ViewerUser
from models.api_keys import ApiRole

router = APIRouter(prefix="/app/clients", include_in_schema=False)

ExternalId = Annotated[str, Path(min_length=1, max_length=120, pattern=r"^[A-Za-z0-9._:@-]+$")]
FormStr = Annotated[str, Form(max_length=2000)]


@router.get("", response_class=HTMLResponse)
async def list_page(
    request: Request, db: DatabaseDep, user: ViewerUser, q: Annotated[str, Query(max_length=200)] = ""
) -> HTMLResponse:
    async with db.session() as session:
        found = await clients_service.list_clients(
            session, query=q.replace("\x00", "").strip() or None, limit=100, workspace_id=user.workspace_id
        )
    return render(request, "clients.html", user=user, clients=found, values={"q": q})


async def _detail(
    request: Request,
    db: DatabaseDep,
    user: UserOut,
    external_id: str,
    *,
    status_code: int = 200,
    errors: dict[str, str] | None = None,
    values: dict[str, str] | None = None,
) -> HTMLResponse:
    try:
        async with db.session() as session:
            client = await clients_service.client_detail(session, external_id, limit=50, workspace_id=user.workspace_id)
            timeline = await clients_service.client_timeline(
                session, external_id, limit=100, workspace_id=user.workspace_id
            )
    except clients_service.ClientNotFound as err:
        return render(request, "not_found.html", status_code=404, user=user, message=str(err))
    return render(
        request,
        "client.html",
        status_code=status_code,
        user=user,
        client=client,
        timeline=timeline,
        can_act=user.role.allows(ApiRole.staff),
        errors=errors or {},
        values=values or {"name": client.name, "email": client.email, "timezone": client.timezone},
    )


@router.get("/{external_id}", response_class=HTMLResponse)
async def detail_page(request: Request, db: DatabaseDep, user: ViewerUser, external_id: ExternalId) -> HTMLResponse:
    return await _detail(request, db, user, external_id)


@router.post("/{external_id}/notes", response_class=HTMLResponse)
async def add_note(
    request: Request, db: DatabaseDep, user: StaffUser, external_id: ExternalId, text: FormStr = ""
) -> Response:
    try:
        async with db.session() as session:
            await clients_service.add_note(
                session, external_id, text=text.replace("\x00", ""), author=user.actor, workspace_id=user.workspace_id
            )
    except clients_service.ClientNotFound as err:
        return render(request, "not_found.html", status_code=404, user=user, message=str(err))
    except ValueError as err:
        return await _detail(request, db, user, external_id, status_code=422, errors={"text": str(err)})
    flash(request, "Note added to the timeline.")
    return redirect(f"/app/clients/{external_id}")


@router.post("/{external_id}/settings", response_class=HTMLResponse)
async def change_settings(
    request: Request,
    db: DatabaseDep,
    temporal: TemporalDep,
    user: StaffUser,
    external_id: ExternalId,
    reminders_paused: FormStr = "",
    auto_pay: FormStr = "",
    default_policy: FormStr = "",
) -> Response:
    change = clients_service.ReminderSettingsChange(
        reminders_paused=reminders_paused == "yes", auto_pay=auto_pay == "yes", clear_policy=default_policy == "yes"
    )
    try:
        outcome = await clients_service.update_reminder_settings(
            db, temporal, external_id, change, actor=user.actor, workspace_id=user.workspace_id
        )
    except clients_service.ClientNotFound as err:
        return render(request, "not_found.html", status_code=404, user=user, message=str(err))
    reached = f"; {len(outcome.signalled)} open invoice(s) updated" if outcome.signalled else ""
    flash(request, f"Reminder settings saved{reached}.")
    return redirect(f"/app/clients/{external_id}")


@router.post("/{external_id}/contact", response_class=HTMLResponse)
async def change_contact(
    request: Request,
    db: DatabaseDep,
    user: StaffUser,
    external_id: ExternalId,
    name: FormStr = "",
    email: FormStr = "",
    timezone: FormStr = "",
) -> Response:
    values = {"name": name, "email": email, "timezone": timezone}
    try:
        change = client_contacts.ContactChange(name=name.strip(), email=email.strip(), timezone=timezone.strip())
        changed = await client_contacts.change_contact(
            db, external_id, change, actor=user.actor, workspace_id=user.workspace_id
        )
    except ValidationError as err:
        problem = err.errors()[0]
        field = str(problem["loc"][0]) if problem["loc"] else "name"
        return await _detail(
            request, db, user, external_id, status_code=422, errors={f"contact.{field}": problem["msg"]}, values=values
        )
    except (clients_service.ClientNotFound, clients_service.AmbiguousClient) as err:
        return render(request, "not_found.html", status_code=404, user=user, message=str(err))
    flash(request, "Contact saved: " + "; ".join(changed) if changed else "Nothing changed.")
    return redirect(f"/app/clients/{external_id}")
