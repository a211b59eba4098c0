"""What staff do with subscriptions, one flow for the API, the CLI and the staff app: list, show, act (pause,
resume, cancel, change plan, trigger) and the catalog a new plan is chosen from. The edges parse, call one
function here, and render; the rules are billflow.services.subscriptions and the subscription's workflow.

An action is a Workflow Update of the subscription's workflow (the single writer): its validator refuses with
the reason before anything is written, and the update answers once the run has applied the action, so the caller
gets the subscription as the workflow left it, or ActionRefused with the workflow's own reason.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation

from pydantic import BaseModel
from temporalio.client import Client

from billflow.db import Database
from billflow.repositories import catalog as catalog_repo
from billflow.repositories import subscriptions as subs_repo
from billflow.runs import subscriptions as subscription_runs
from billflow.services import subscriptions as rules
from models.columns import DEFAULT_WORKSPACE_ID
from models.service_catalog import CatalogEntryOut
from models.subscription_io import ChangePlan, SubscriptionAction, SubscriptionStatus, SubscriptionView, interval_text
from models.workflow_io import LineIn

SubscriptionNotFound = rules.SubscriptionNotFound
MAX_PLAN_LINES = 200


class ActionRefused(Exception):
    """The workflow did not apply the action (its reason), or has closed."""


class PlanLineRefused(ValueError):
    """A chosen plan line is not usable; `field` names it (line{n}_catalog, line{n}_quantity)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class SubscriptionSummary(BaseModel):
    subscription_id: str
    status: SubscriptionStatus
    client_external_id: str
    client_name: str
    currency: str
    interval: str
    schedule: str  # in words: "monthly on day 1", "every 2 weeks", "cron 0 9 1 * *"
    next_period_start: date | None
    periods_billed: int


schedule_text = interval_text  # the API, the CLI and the staff app show the same words


async def list_subscriptions(
    db: Database,
    *,
    status: SubscriptionStatus | None = None,
    limit: int = 100,
    offset: int = 0,
    workspace_id: int = DEFAULT_WORKSPACE_ID,
) -> list[SubscriptionSummary]:
    """The workspace's subscriptions, newest first."""
    async with db.session() as session:
        rows = await subs_repo.list_subscriptions(
            session, workspace_id=workspace_id, status=status.value if status else None, limit=limit, offset=offset
        )
    return [
        SubscriptionSummary(
            subscription_id=sub.id,
            status=SubscriptionStatus(sub.status),
            client_external_id=client.external_id,
            client_name=client.name,
            currency=sub.currency,
            interval=str(sub.interval.get("kind", "")),
            schedule=schedule_text(sub.interval),
            next_period_start=sub.next_period_start,
            periods_billed=sub.periods_billed,
        )
        for sub, client in rows
    ]


async def show(db: Database, *, subscription_id: str, workspace_id: int | None = None) -> SubscriptionView:
    """The subscription, its plan versions and billed periods; SubscriptionNotFound, also for another
    workspace's than `workspace_id` (when given), so nothing tells it exists."""
    async with db.session() as session:
        if workspace_id is not None:
            owner = await subs_repo.subscription_workspace(session, subscription_id=subscription_id)
            if owner is not None and owner != workspace_id:
                raise SubscriptionNotFound(f"no subscription {subscription_id}")
        return await rules.describe(session, subscription_id=subscription_id)


async def act(
    db: Database,
    temporal: Client,
    *,
    subscription_id: str,
    action: SubscriptionAction,
    workspace_id: int | None = None,
) -> SubscriptionView:
    """Apply the action through the workflow's Update (one call, answered once the run applied it); the
    subscription afterwards. A retried call with the same action id is applied once.

    SubscriptionNotFound before anything is sent (another workspace's too); ActionRefused with the workflow's
    reason, or when its run has closed."""
    view = await show(db, subscription_id=subscription_id, workspace_id=workspace_id)
    try:
        await subscription_runs.execute_action(temporal, view.workflow_id, action)
    except subscription_runs.ActionRejected as err:
        raise ActionRefused(err.reason) from err
    except rules.WorkflowClosed as err:
        raise ActionRefused(str(err)) from err
    return await show(db, subscription_id=subscription_id, workspace_id=workspace_id)


# --- a new plan from the catalog -----------------------------------------------------------------------


async def plan_choices(
    db: Database, *, currency: str, workspace_id: int = DEFAULT_WORKSPACE_ID
) -> list[CatalogEntryOut]:
    """The workspace's catalog services priced in the subscription's currency."""
    async with db.session() as session:
        rows = await catalog_repo.list_entries(session, workspace_id=workspace_id)
    return [CatalogEntryOut.model_validate(r, from_attributes=True) for r in rows if r.currency == currency]


@dataclass(frozen=True)
class ChosenLine:
    """One line of the change-plan form: a catalog entry (its event type) and a quantity as typed."""

    position: int
    event_type: str
    quantity: str


def plan_lines(chosen: list[ChosenLine], catalog: list[CatalogEntryOut]) -> list[LineIn]:
    """The new plan's lines, at the catalog's prices and tax rates; PlanLineRefused names a bad line."""
    by_type = {entry.event_type: entry for entry in catalog}
    lines = []
    for row in chosen:
        if not row.event_type:
            continue
        entry = by_type.get(row.event_type)
        if entry is None:
            raise PlanLineRefused(
                f"line{row.position}_catalog", "choose a service priced in the subscription's currency"
            )
        try:
            quantity = Decimal(row.quantity.strip() or "1")
        except InvalidOperation:
            raise PlanLineRefused(f"line{row.position}_quantity", "not a number") from None
        if not quantity.is_finite() or quantity <= 0 or quantity > 1_000_000 or quantity != round(quantity, 3):
            raise PlanLineRefused(f"line{row.position}_quantity", "a quantity above 0, up to 3 decimals")
        lines.append(
            LineIn(
                description=entry.service_name,
                quantity=quantity,
                unit_price_minor=entry.unit_price_minor,
                tax_rate_bp=entry.tax_rate_bp,
            )
        )
    if not lines:
        raise PlanLineRefused("line1_catalog", "choose at least one service for the new plan")
    if len(lines) > MAX_PLAN_LINES:
        raise PlanLineRefused("line1_catalog", f"at most {MAX_PLAN_LINES} lines")
    return lines


async def change_plan(
    db: Database,
    temporal: Client,
    *,
    subscription_id: str,
    lines: list[LineIn],
    actor: str,
    note: str | None = None,
    workspace_id: int | None = None,
) -> SubscriptionView:
    """New plan lines from the next period on: periods already billed keep their invoices and lines, and each
    period is still invoiced once (its invoice's workflow id is the period's)."""
    return await act(
        db,
        temporal,
        subscription_id=subscription_id,
        action=ChangePlan(lines=lines, actor=actor, note=note),
        workspace_id=workspace_id,
    )
