"""Staff subscription endpoints: create, list, show, and the actions (pause, resume, cancel, change, trigger),
each answered with the subscription after the workflow applied it, or 409 with the reason it did not."""

from __future__ import annotations

from collections.abc import Awaitable
from datetime import date
from typing import Annotated

from fastapi import APIRouter, Body, HTTPException, Path, Query, status
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, Field

from billflow.runs import subscriptions as subscription_runs
from billflow.services import subscription_actions as actions
from billflow.services import subscriptions as service
from billflow.web.auth import AUTH_RESPONSES, StaffDep, ViewerDep
from billflow.web.deps import DatabaseDep, SettingsDep, TemporalDep
from billflow.web.scope import SubscriptionScope
from models.subscription_io import (
    CancelSubscription,
    PauseSubscription,
    ResumeSubscription,
    SubscriptionAction,
    SubscriptionIn,
    SubscriptionStatus,
    SubscriptionView,
    TriggerBilling,
)
from models.workflow_io import LineIn

# A key sees and acts on its own workspace's subscriptions only: another's id answers 404, as an unknown one does
# (billflow/web/scope.py); one it creates is its workspace's, with its client there.
router = APIRouter(
    prefix="/v1/subscriptions", tags=["subscriptions"], responses=AUTH_RESPONSES, dependencies=[SubscriptionScope]
)

IdPath = Annotated[str, Path(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9._:@-]+$")]
NOT_FOUND: dict[int | str, dict[str, object]] = {404: {"description": "No subscription with this id"}}
ACTION_RESPONSES: dict[int | str, dict[str, object]] = {
    **NOT_FOUND,
    409: {"description": "The action does not apply in the subscription's current state (the reason is given)"},
}


class NoteIn(BaseModel):
    note: str | None = Field(default=None, max_length=2000)


class ChangePlanIn(NoteIn):
    lines: list[LineIn] = Field(min_length=1, max_length=200)


class TriggerIn(NoteIn):
    period_start: date | None = Field(default=None, description="a period's first day; default: the current one")


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    summary="Create a subscription in the key's workspace and start its billing",
)
async def create_subscription(
    data: SubscriptionIn, db: DatabaseDep, temporal: TemporalDep, settings: SettingsDep, principal: StaffDep
) -> SubscriptionView:
    try:
        return await subscription_runs.create_and_start(
            db,
            temporal,
            data,
            task_queue=settings.task_queue,
            max_backfill_periods=settings.subscription_max_backfill_periods,
            actor=principal.actor,
            workspace_id=principal.workspace_id,
        )
    except service.SubscriptionConflict as err:
        raise HTTPException(status.HTTP_409_CONFLICT, str(err)) from err
    except service.BackfillTooLong as err:
        raise RequestValidationError([{"type": "value_error", "loc": ("body", err.field), "msg": str(err)}]) from None


@router.get("", summary="List subscriptions, newest first")
async def list_subscriptions(
    db: DatabaseDep,
    principal: ViewerDep,
    status_filter: Annotated[SubscriptionStatus | None, Query(alias="status")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> list[actions.SubscriptionSummary]:
    return await actions.list_subscriptions(
        db, status=status_filter, limit=limit, offset=offset, workspace_id=principal.workspace_id
    )


@router.get("/{subscription_id}", responses=NOT_FOUND, summary="A subscription, its plans and billed periods")
async def show_subscription(subscription_id: IdPath, db: DatabaseDep, _: ViewerDep) -> SubscriptionView:
    return await _view(db, subscription_id)


async def _view(db: DatabaseDep, subscription_id: str) -> SubscriptionView:
    try:
        return await actions.show(db, subscription_id=subscription_id)
    except actions.SubscriptionNotFound as err:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(err)) from err


async def _answer(call: Awaitable[SubscriptionView]) -> SubscriptionView:
    """The service's answer, or 404 / 409 with its reason."""
    try:
        return await call
    except actions.SubscriptionNotFound as err:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(err)) from err
    except actions.ActionRefused as err:
        raise HTTPException(status.HTTP_409_CONFLICT, str(err)) from err


async def _act(
    db: DatabaseDep, temporal: TemporalDep, subscription_id: str, action: SubscriptionAction
) -> SubscriptionView:
    return await _answer(actions.act(db, temporal, subscription_id=subscription_id, action=action))


@router.post("/{subscription_id}/pause", responses=ACTION_RESPONSES, summary="Pause: periods starting now are skipped")
async def pause(
    subscription_id: IdPath, db: DatabaseDep, temporal: TemporalDep, principal: StaffDep,
    body: Annotated[NoteIn | None, Body()] = None,
) -> SubscriptionView:  # fmt: skip
    note = body.note if body else None
    return await _act(db, temporal, subscription_id, PauseSubscription(actor=principal.name, note=note))


@router.post("/{subscription_id}/resume", responses=ACTION_RESPONSES, summary="Resume from the next period")
async def resume(
    subscription_id: IdPath, db: DatabaseDep, temporal: TemporalDep, principal: StaffDep,
    body: Annotated[NoteIn | None, Body()] = None,
) -> SubscriptionView:  # fmt: skip
    note = body.note if body else None
    return await _act(db, temporal, subscription_id, ResumeSubscription(actor=principal.name, note=note))


@router.post("/{subscription_id}/cancel", responses=ACTION_RESPONSES, summary="Cancel after the current period")
async def cancel(
    subscription_id: IdPath, db: DatabaseDep, temporal: TemporalDep, principal: StaffDep,
    body: Annotated[NoteIn | None, Body()] = None,
) -> SubscriptionView:  # fmt: skip
    note = body.note if body else None
    return await _act(db, temporal, subscription_id, CancelSubscription(actor=principal.name, note=note))


@router.post("/{subscription_id}/change", responses=ACTION_RESPONSES, summary="New plan lines from the next period")
async def change_plan(
    subscription_id: IdPath, body: ChangePlanIn, db: DatabaseDep, temporal: TemporalDep, principal: StaffDep
) -> SubscriptionView:
    return await _answer(
        actions.change_plan(
            db, temporal, subscription_id=subscription_id, lines=body.lines, actor=principal.name, note=body.note
        )
    )


@router.post("/{subscription_id}/trigger", responses=ACTION_RESPONSES, summary="Bill a period now (never twice)")
async def trigger(
    subscription_id: IdPath, db: DatabaseDep, temporal: TemporalDep, principal: StaffDep,
    body: Annotated[TriggerIn | None, Body()] = None,
) -> SubscriptionView:  # fmt: skip
    action = TriggerBilling(
        period_start=body.period_start if body else None, actor=principal.name, note=body.note if body else None
    )
    return await _act(db, temporal, subscription_id, action)
