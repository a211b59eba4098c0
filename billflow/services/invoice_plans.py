"""The plan ahead of an invoice, from its workflow's own `plan` query, and dry runs of staff actions.

A dry run takes the live state and the policy from the workflow, applies the action to a copy with the same
calendar rules the workflow's activities use (billflow.schedule), checks it with the same rules
(workflows.invoice_rules) and plans the copy with the same pure function (workflows.invoice_plan). Nothing is
signalled, so nothing changes.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime

from pydantic import BaseModel
from temporalio.client import Client

from billflow import schedule
from billflow.db import Database
from billflow.services import staff_actions
from models.workflow_io import ExtendDueDate, InvoicePlan, PauseReminders, ReminderPolicy
from workflows.invoice import InvoiceWorkflow
from workflows.invoice_plan import plan_ahead
from workflows.invoice_rules import rejection_reason

log = logging.getLogger(__name__)


class PlanPreview(BaseModel):
    """A dry run: the plan now and the plan if the action were applied."""

    number: str
    action: str
    dry_run: bool = True
    before: InvoicePlan
    after: InvoicePlan


async def current_plan(db: Database, temporal: Client, *, number: str) -> InvoicePlan:
    workflow_id = await staff_actions.workflow_id_for(db, number=number)
    plan: InvoicePlan | None = await temporal.get_workflow_handle(workflow_id).query(InvoiceWorkflow.plan)
    if plan is None:
        raise staff_actions.ActionRejected(f"invoice {number} is still being issued")
    return plan


async def plan_for_page(temporal: Client, *, workflow_id: str, timeout: float = 2.0) -> InvoicePlan | None:
    """The plan for the client's invoice page; None if the run is closed or cannot answer quickly (the page
    then shows only what the database knows)."""
    try:
        handle = temporal.get_workflow_handle(workflow_id)
        plan: InvoicePlan | None = await asyncio.wait_for(handle.query(InvoiceWorkflow.plan), timeout=timeout)
        return plan
    except Exception as err:  # never let the workflow service break a public page
        log.info("plan of %s not available for the invoice page: %s", workflow_id, err)
        return None


async def preview_action(
    db: Database, temporal: Client, *, number: str, action: ExtendDueDate | PauseReminders, name: str
) -> PlanPreview:
    """The plan before and after `action`, without applying it; ActionRejected if it would not apply."""
    workflow_id = await staff_actions.workflow_id_for(db, number=number)
    handle = temporal.get_workflow_handle(workflow_id)
    state = await handle.query(InvoiceWorkflow.status)
    if state is None:
        raise staff_actions.ActionRejected(f"invoice {number} is still being issued")
    now = datetime.now(UTC)
    reason = rejection_reason(state, action, now=now)
    if reason is not None:
        raise staff_actions.ActionRejected(reason)
    after = state.model_copy(deep=True)
    match action:
        case ExtendDueDate():
            policy: ReminderPolicy = await handle.query(InvoiceWorkflow.reminder_policy)
            after.due_date, after.due_at = schedule.extended_due(
                policy,
                state.timezone,
                state.due_date,
                state.due_at,
                new_date=action.due_date,
                extend_by=action.extend_by,
            )
            after.reminders = schedule.plan_reminders(
                policy,
                state.timezone,
                issued_at=state.issued_at,
                due_date=after.due_date,
                due_at=after.due_at,
                already=state.reminders,
            )
            after.escalated = state.escalated and now >= after.due_at
        case PauseReminders():
            after.paused, after.paused_until = True, action.until
    return PlanPreview(number=number, action=name, before=plan_ahead(state, now=now), after=plan_ahead(after, now=now))
