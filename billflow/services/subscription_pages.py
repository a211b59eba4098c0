"""What the staff app shows and does with subscriptions: the list, and an action answered with its refusal."""

from __future__ import annotations

from datetime import date

from pydantic import BaseModel
from temporalio.client import Client

from billflow.db import Database
from billflow.repositories import subscriptions as subs_repo
from billflow.runs import subscriptions as subscription_runs
from billflow.services import subscriptions as service
from models.subscription_io import SubscriptionAction, SubscriptionStatus


class SubscriptionSummary(BaseModel):
    subscription_id: str
    status: SubscriptionStatus
    client_external_id: str
    client_name: str
    currency: str
    interval: str
    next_period_start: date | None
    periods_billed: int


class ActionRefused(Exception):
    pass


async def list_subscriptions(
    db: Database, *, status: SubscriptionStatus | None = None, limit: int = 100
) -> list[SubscriptionSummary]:
    async with db.session() as session:
        rows = await subs_repo.list_subscriptions(session, status=status.value if status else None, limit=limit)
    return [
        SubscriptionSummary(
            subscription_id=sub.id,
            status=SubscriptionStatus(sub.status),
            client_external_id=client.external_id,
            client_name=client.name,
            currency=sub.currency,
            interval=str(sub.interval.get("kind", "")),
            next_period_start=sub.next_period_start,
            periods_billed=sub.periods_billed,
        )
        for sub, client in rows
    ]


async def act(temporal: Client, subscription_id: str, action: SubscriptionAction) -> None:
    """Signal and wait until the workflow applied it; ActionRefused with the workflow's reason."""
    try:
        state = await subscription_runs.act_and_wait(temporal, subscription_id, action)
    except service.WorkflowClosed as err:
        raise ActionRefused(str(err)) from err
    if state is not None and state.last_rejection and action.action_id in state.processed_action_ids:
        raise ActionRefused(state.last_rejection)
