"""Settings: the reminder-policy editor, with a preview of the dates it gives a sample invoice, saved per client
through the same service as the API's client settings."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError

from billflow.services import clients as clients_service
from billflow.services import policy_preview
from billflow.services.users import UserOut
from billflow.web.deps import DatabaseDep, TemporalDep
from billflow.web.pages import forms
from billflow.web.pages.rendering import flash, redirect, render
from billflow.web.sessions import StaffUser, ViewerUser
from models.workflow_io import ReminderPolicy

router = APIRouter(prefix="/app/settings", include_in_schema=False)

Q = Annotated[str, Query(max_length=200)]
FormStr = Annotated[str, Form(max_length=200)]
DEFAULT_DAYS = "-3, 0, 3, 7, 14"


def _parse(days: str, send_hour: str, timezone: str, terms_days: str) -> tuple[ReminderPolicy, str, int]:
    """The editor's fields as a policy; FieldError names the bad one."""
    try:
        offsets = [int(part) for part in days.replace(";", ",").split(",") if part.strip()]
    except ValueError:
        raise forms.FieldError("days", "whole numbers of days, separated by commas: -3, 0, 7") from None
    if len(offsets) > 50 or any(abs(d) > 366 for d in offsets):
        raise forms.FieldError("days", "at most 50 steps, each within 366 days of the due date")
    if offsets != sorted(set(offsets)):
        raise forms.FieldError("days", "list each day once, earliest first")
    hour = forms.whole_number("send_hour", send_hour, low=0, high=23)
    try:
        ZoneInfo(timezone.strip() or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        raise forms.FieldError("timezone", "an IANA time zone, e.g. Europe/Berlin") from None
    terms = forms.whole_number("terms_days", terms_days, low=0, high=366, required=True)
    try:
        policy = policy_preview.policy_from_days(offsets, hour)
    except ValidationError as err:
        raise forms.FieldError("days", err.errors()[0]["msg"]) from None
    return policy, timezone.strip() or "UTC", terms or 0


async def _page(
    request: Request,
    db: DatabaseDep,
    user: UserOut,
    values: dict[str, str],
    *,
    status_code: int = 200,
    errors: dict[str, str] | None = None,
) -> HTMLResponse:
    errors = dict(errors or {})
    preview = None
    if not errors:
        try:
            policy, tz, terms = _parse(values["days"], values["send_hour"], values["timezone"], values["terms_days"])
            issued = datetime.now(UTC).replace(second=0, microsecond=0)
            preview = policy_preview.preview(policy, timezone=tz, issued_at=issued, terms_days=terms)
        except forms.FieldError as err:
            errors[err.field] = err.message
            status_code = 422
    async with db.session() as session:
        clients = await clients_service.list_clients(session, limit=200, workspace_id=user.workspace_id)
    return render(
        request,
        "policy.html",
        status_code=status_code,
        user=user,
        values=values,
        errors=errors,
        preview=preview,
        clients=clients,
    )


@router.get("", response_class=HTMLResponse)
async def policy_page(
    request: Request,
    db: DatabaseDep,
    user: ViewerUser,
    days: Q = DEFAULT_DAYS,
    send_hour: Q = "9",
    timezone: Q = "UTC",
    terms_days: Q = "14",
) -> HTMLResponse:
    values = {"days": days, "send_hour": send_hour, "timezone": timezone, "terms_days": terms_days, "client": ""}
    return await _page(request, db, user, values)


@router.post("/policy", response_class=HTMLResponse)
async def save_policy(
    request: Request,
    db: DatabaseDep,
    temporal: TemporalDep,
    user: StaffUser,
    days: FormStr = DEFAULT_DAYS,
    send_hour: FormStr = "9",
    timezone: FormStr = "UTC",
    terms_days: FormStr = "14",
    client: FormStr = "",
) -> Response:
    values = {"days": days, "send_hour": send_hour, "timezone": timezone, "terms_days": terms_days, "client": client}
    try:
        policy, _, _ = _parse(days, send_hour, timezone, terms_days)
    except forms.FieldError as err:
        return await _page(request, db, user, values, status_code=422, errors={err.field: err.message})
    if not client:
        return await _page(request, db, user, values, status_code=422, errors={"client": "choose the client"})
    try:
        await clients_service.update_reminder_settings(
            db,
            temporal,
            client,
            clients_service.ReminderSettingsChange(reminder_policy=policy),
            actor=user.actor,
            workspace_id=user.workspace_id,
        )
    except clients_service.ClientNotFound as err:
        return await _page(request, db, user, values, status_code=422, errors={"client": str(err)})
    flash(request, f"Reminder policy saved for {client}: new invoices of this client follow it.")
    return redirect("/app/settings")
