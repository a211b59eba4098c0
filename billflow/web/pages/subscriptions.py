"""Subscription pages: the list; the detail with its plans and billed periods; pause, resume and cancel."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Path, Query, Request
from fastapi.responses import HTMLResponse, Response

from billflow.services import subscription_pages
from billflow.services import subscriptions as service
from billflow.services.users import UserOut
from billflow.web.deps import DatabaseDep, TemporalDep
from billflow.web.pages.rendering import flash, redirect, render
from billflow.web.sessions import StaffUser, ViewerUser
from models.api_keys import ApiRole
from models.subscription_io import CancelSubscription, PauseSubscription, ResumeSubscription, SubscriptionStatus

router = APIRouter(prefix="/app/subscriptions", include_in_schema=False)

IdPath = Annotated[str, Path(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9._:@-]+$")]
FormStr = Annotated[str, Form(max_length=2000)]
ACTIONS = {"pause": PauseSubscription, "resume": ResumeSubscription, "cancel": CancelSubscription}
DONE = {"pause": "paused", "resume": "resumed", "cancel": "cancelled after the current period"}


@router.get("", response_class=HTMLResponse)
async def list_page(
    request: Request, db: DatabaseDep, user: ViewerUser, status: Annotated[str, Query(max_length=20)] = ""
) -> HTMLResponse:
    chosen = SubscriptionStatus(status) if status in {s.value for s in SubscriptionStatus} else None
    subs = await subscription_pages.list_subscriptions(db, status=chosen)
    statuses = [(s.value, s.value) for s in SubscriptionStatus]
    return render(request, "subscriptions.html", user=user, subs=subs, statuses=statuses, values={"status": status})


async def _detail(request: Request, db: DatabaseDep, user: UserOut, subscription_id: str) -> HTMLResponse:
    try:
        async with db.session() as session:
            sub = await service.describe(session, subscription_id=subscription_id)
    except service.SubscriptionNotFound as err:
        return render(request, "not_found.html", status_code=404, user=user, message=str(err))
    return render(request, "subscription.html", user=user, sub=sub, can_act=user.role.allows(ApiRole.staff))


@router.get("/{subscription_id}", response_class=HTMLResponse)
async def detail_page(request: Request, db: DatabaseDep, user: ViewerUser, subscription_id: IdPath) -> HTMLResponse:
    return await _detail(request, db, user, subscription_id)


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
    try:
        async with db.session() as session:
            await service.describe(session, subscription_id=subscription_id)  # 404 before any signal
        await subscription_pages.act(
            temporal, subscription_id, ACTIONS[name](actor=user.actor, note=note.replace("\x00", "") or None)
        )
    except service.SubscriptionNotFound as err:
        return render(request, "not_found.html", status_code=404, user=user, message=str(err))
    except subscription_pages.ActionRefused as err:
        flash(request, f"Refused: {err}", kind="error")
        return redirect(back)
    flash(request, f"Subscription {DONE[name]}.")
    return redirect(back)
