"""Subscription pages: the list; the detail with its plans and billed periods; pause, resume, cancel and change
plan (catalog services, from the next period). Each handler parses the form, calls one function of
billflow.services.subscription_actions (the API's and the CLI's too) and renders."""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Annotated

from fastapi import APIRouter, Form, Path, Query, Request
from fastapi.responses import HTMLResponse, Response

from billflow.services import subscription_actions as actions
from billflow.services.users import UserOut
from billflow.web.deps import DatabaseDep, TemporalDep
from billflow.web.pages import forms
from billflow.web.pages.rendering import flash, redirect, render
from billflow.web.sessions import StaffUser, ViewerUser
from models.api_keys import ApiRole
from models.subscription_io import CancelSubscription, PauseSubscription, ResumeSubscription, SubscriptionStatus

router = APIRouter(prefix="/app/subscriptions", include_in_schema=False)

IdPath = Annotated[str, Path(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9._:@-]+$")]
FormStr = Annotated[str, Form(max_length=2000)]
ACTIONS = {"pause": PauseSubscription, "resume": ResumeSubscription, "cancel": CancelSubscription}
DONE = {"pause": "paused", "resume": "resumed", "cancel": "cancelled after the current period"}
PLAN_ROWS = 4  # lines of the change-plan form


@router.get("", response_class=HTMLResponse)
async def list_page(
    request: Request, db: DatabaseDep, user: ViewerUser, status: Annotated[str, Query(max_length=20)] = ""
) -> HTMLResponse:
    chosen = SubscriptionStatus(status) if status in {s.value for s in SubscriptionStatus} else None
    subs = await actions.list_subscriptions(db, status=chosen, workspace_id=user.workspace_id)
    statuses = [(s.value, s.value) for s in SubscriptionStatus]
    return render(request, "subscriptions.html", user=user, subs=subs, statuses=statuses, values={"status": status})


async def _detail(
    request: Request,
    db: DatabaseDep,
    user: UserOut,
    subscription_id: str,
    *,
    status_code: int = 200,
    errors: dict[str, str] | None = None,
    values: dict[str, str] | None = None,
) -> HTMLResponse:
    try:
        sub = await actions.show(db, subscription_id=subscription_id, workspace_id=user.workspace_id)
    except actions.SubscriptionNotFound as err:
        return render(request, "not_found.html", status_code=404, user=user, message=str(err))
    return render(
        request,
        "subscription.html",
        status_code=status_code,
        user=user,
        sub=sub,
        can_act=user.role.allows(ApiRole.staff),
        catalog=await actions.plan_choices(db, currency=sub.currency, workspace_id=user.workspace_id),
        plan_rows=PLAN_ROWS,
        errors=errors or {},
        values=values or {},
        open_form="change" if errors else None,
    )


@router.get("/{subscription_id}", response_class=HTMLResponse)
async def detail_page(request: Request, db: DatabaseDep, user: ViewerUser, subscription_id: IdPath) -> HTMLResponse:
    return await _detail(request, db, user, subscription_id)


@router.post("/{subscription_id}/change", response_class=HTMLResponse)
async def change_plan(
    request: Request, db: DatabaseDep, temporal: TemporalDep, user: StaffUser, subscription_id: IdPath
) -> Response:
    data = forms.form_text(await request.form())
    back = f"/app/subscriptions/{subscription_id}"

    def refused(field: str, message: str) -> Awaitable[HTMLResponse]:
        return _refused(request, db, user, subscription_id, data, field, message)

    if data.get("confirm") != "yes":
        return await refused("confirm", "tick the box to confirm")
    chosen = [
        actions.ChosenLine(i, data.get(f"line{i}_catalog", ""), data.get(f"line{i}_quantity", ""))
        for i in range(1, PLAN_ROWS + 1)
    ]
    try:
        sub = await actions.show(db, subscription_id=subscription_id, workspace_id=user.workspace_id)
        choices = await actions.plan_choices(db, currency=sub.currency, workspace_id=user.workspace_id)
        lines = actions.plan_lines(chosen, choices)
        await actions.change_plan(
            db,
            temporal,
            subscription_id=subscription_id,
            lines=lines,
            actor=user.actor,
            note=data.get("note", "").strip()[:2000] or None,
            workspace_id=user.workspace_id,
        )
    except actions.SubscriptionNotFound as err:
        return render(request, "not_found.html", status_code=404, user=user, message=str(err))
    except actions.PlanLineRefused as err:
        return await refused(err.field, err.message)
    except actions.ActionRefused as err:
        flash(request, f"Refused: {err}", kind="error")
        return redirect(back)
    when = f" from the period starting {sub.next_period_start}" if sub.next_period_start else ""
    flash(request, f"Plan changed{when}; periods already billed are unchanged.")
    return redirect(back)


async def _refused(
    request: Request, db: DatabaseDep, user: UserOut, subscription_id: str, data: dict[str, str], field: str, msg: str
) -> HTMLResponse:
    values = {f"change.{k}": v for k, v in data.items()}
    return await _detail(
        request, db, user, subscription_id, status_code=422, errors={f"change.{field}": msg}, values=values
    )


@router.post("/{subscription_id}/{name}", response_class=HTMLResponse)
async def act(
    request: Request,
    db: DatabaseDep,
    temporal: TemporalDep,
    user: StaffUser,
    subscription_id: IdPath,
    name: Annotated[str, Path(max_length=10)],
    confirm: FormStr = "",
    note: FormStr = "",
) -> Response:
    back = f"/app/subscriptions/{subscription_id}"
    if name not in ACTIONS:
        return render(request, "not_found.html", status_code=404, user=user, message=f"no action {name[:10]!r}")
    if confirm != "yes":
        flash(request, "Tick the box to confirm.", kind="error")
        return redirect(back)
    action = ACTIONS[name](actor=user.actor, note=note.replace("\x00", "") or None)
    try:
        await actions.act(db, temporal, subscription_id=subscription_id, action=action, workspace_id=user.workspace_id)
    except actions.SubscriptionNotFound as err:
        return render(request, "not_found.html", status_code=404, user=user, message=str(err))
    except actions.ActionRefused as err:
        flash(request, f"Refused: {err}", kind="error")
        return redirect(back)
    flash(request, f"Subscription {DONE[name]}.")
    return redirect(back)
