"""The Temporal client side of recurring billing: start a subscription's workflow, signal it, apply an action
through its Update.

Shared by the API, the CLI and the `subscription.created` booking event; the rules live in
billflow.services.subscriptions, which never imports the workflow (the workflow's activities import it).
"""

from __future__ import annotations

import contextlib
from typing import Any

from temporalio.client import Client, WorkflowHandle
from temporalio.common import (
    WorkflowIDConflictPolicy,
    WorkflowIDReusePolicy,
)
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from billflow.db import Database
from billflow.runs.updates import execute_answered_update
from billflow.services import subscriptions as service
from models import workflow_ids
from models.client_sources import STAFF_SOURCE
from models.columns import DEFAULT_WORKSPACE_ID
from models.subscription_io import (
    CancelSubscription,
    ChangePlan,
    PauseSubscription,
    ResumeSubscription,
    SubscriptionAction,
    SubscriptionIn,
    SubscriptionRunState,
    SubscriptionStatus,
    SubscriptionView,
    SubscriptionWorkflowInput,
    TriggerBilling,
)
from workflows.search_attributes import start_attributes
from workflows.subscription import SubscriptionWorkflow

# Action type -> the signal that carries it (for callers that do not wait) and the Update that answers it.
SIGNALS: dict[type[SubscriptionAction], Any] = {
    PauseSubscription: SubscriptionWorkflow.pause,
    ResumeSubscription: SubscriptionWorkflow.resume,
    CancelSubscription: SubscriptionWorkflow.cancel,
    ChangePlan: SubscriptionWorkflow.change_plan,
    TriggerBilling: SubscriptionWorkflow.trigger,
}
UPDATES: dict[type[SubscriptionAction], Any] = {  # Any: each entry is an update method of its own action type
    PauseSubscription: SubscriptionWorkflow.apply_pause,
    ResumeSubscription: SubscriptionWorkflow.apply_resume,
    CancelSubscription: SubscriptionWorkflow.apply_cancel,
    ChangePlan: SubscriptionWorkflow.apply_change_plan,
    TriggerBilling: SubscriptionWorkflow.apply_trigger,
}


class ActionRejected(Exception):
    """The run refused the action: its validator, or its main loop when a change queued ahead got there first."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


async def start_workflow(
    client: Client,
    subscription_id: str,
    *,
    task_queue: str,
    workspace_id: int = DEFAULT_WORKSPACE_ID,
    workflow_id: str | None = None,
) -> WorkflowHandle[Any, Any]:
    """Start the subscription's workflow, or find the one already running: never two. `workflow_id` is the one
    its row records (a subscription created before workspaces keeps `subscription-{id}`); a new one's id carries
    its workspace (models/workflow_ids.py)."""
    return await client.start_workflow(
        SubscriptionWorkflow.run,
        SubscriptionWorkflowInput(subscription_id=subscription_id, spread_seconds=service.FIRE_SPREAD_SECONDS),
        id=workflow_id or workflow_ids.subscription(workspace_id=workspace_id, subscription_id=subscription_id),
        task_queue=task_queue,
        id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
        id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
        search_attributes=start_attributes(workspace_id=workspace_id, subscription_id=subscription_id),
        static_summary=f"Recurring billing of subscription {subscription_id}",
    )


async def create_and_start(
    db: Database,
    temporal: Client,
    data: SubscriptionIn,
    *,
    task_queue: str,
    max_backfill_periods: int = service.MAX_BACKFILL_PERIODS,
    client_source: str = STAFF_SOURCE,
    actor: str = STAFF_SOURCE,
    workspace_id: int = DEFAULT_WORKSPACE_ID,
) -> SubscriptionView:
    """Create (or find) the subscription in `workspace_id` and make sure its workflow runs: shared by the API,
    the CLI and the `subscription.created` booking event. Safe to repeat with the same subscription_id."""
    async with db.session() as session:
        sub, _created = await service.create_subscription(
            session,
            data=data,
            max_backfill_periods=max_backfill_periods,
            client_source=client_source,
            actor=actor,
            workspace_id=workspace_id,
        )
    if not SubscriptionStatus(sub.status).is_final:
        # A run that closed earlier is not started again (REJECT_DUPLICATE): that is what we want.
        with contextlib.suppress(WorkflowAlreadyStartedError):
            await start_workflow(
                temporal, sub.id, task_queue=task_queue, workspace_id=sub.workspace_id, workflow_id=sub.workflow_id
            )
    async with db.session() as session:
        return await service.describe(session, subscription_id=sub.id)


# The hook the booking-events endpoint calls for a `subscription.created` event.
handle_subscription_created = create_and_start


async def send_action(client: Client, workflow_id: str, action: SubscriptionAction) -> None:
    """`workflow_id`: the subscription's, as its row records it (SubscriptionView.workflow_id)."""
    try:
        await client.get_workflow_handle(workflow_id).signal(SIGNALS[type(action)], action)
    except RPCError as err:
        if err.status is RPCStatusCode.NOT_FOUND:
            raise service.WorkflowClosed(f"subscription run {workflow_id} is no longer running") from err
        raise


async def query_state(client: Client, workflow_id: str) -> SubscriptionRunState:
    handle = client.get_workflow_handle(workflow_id)
    # The query answers None only before the run's first task; callers query after the start.
    state: SubscriptionRunState = await handle.query(SubscriptionWorkflow.status)  # type: ignore[arg-type,call-overload,unused-ignore]
    return state


async def execute_action(client: Client, workflow_id: str, action: SubscriptionAction) -> SubscriptionRunState:
    """Apply the action through the run's Update and return the run's state after it; ActionRejected with the
    run's reason, WorkflowClosed once the run has ended. The action id is the update id: a retried call is
    answered by the server from the first, not applied twice."""
    state: SubscriptionRunState = await execute_answered_update(
        client,
        workflow_id,
        UPDATES[type(action)],
        action,
        refused=ActionRejected,
        closed=lambda: service.WorkflowClosed(f"subscription run {workflow_id} is no longer running"),
    )
    return state
