"""Staff actions on an invoice (mark paid, pause, resume, extend, void, write off), shared by API and CLI.

The rules in workflows.invoice_rules are checked against the live state first, so a caller gets the reason at
once (HTTP 409, CLI error) instead of a silently rejected signal; the workflow checks them again when it applies
the action, so a race between two staff members cannot break an invoice.
"""

from __future__ import annotations

from datetime import UTC, datetime

from temporalio.client import Client

from billflow.db import Database
from billflow.repositories import invoices as invoices_repo
from billflow.services import invoice_runs
from models.workflow_io import InvoiceState, StaffAction
from workflows.invoice_rules import rejection_reason


class InvoiceNotFound(LookupError):
    pass


class ActionRejected(Exception):
    """The action does not apply to the invoice in its current state."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


async def workflow_id_for(db: Database, *, number: str) -> str:
    async with db.session() as session:
        invoice = await invoices_repo.get_invoice(session, number=number)
    if invoice is None:
        raise InvoiceNotFound(f"no invoice numbered {number}")
    return invoice.workflow_id


async def perform_action(db: Database, client: Client, *, number: str, action: StaffAction) -> InvoiceState:
    """Check, signal, and wait until the workflow has applied the action; returns the resulting state."""
    workflow_id = await workflow_id_for(db, number=number)
    state = await invoice_runs.query_state(client, workflow_id)
    if state is None:
        raise ActionRejected(f"invoice {number} is still being issued")
    reason = rejection_reason(state, action, now=datetime.now(UTC))
    if reason is not None:
        raise ActionRejected(reason)
    try:
        await invoice_runs.send_action(client, workflow_id, action)
    except invoice_runs.WorkflowClosed as err:
        raise ActionRejected(f"invoice {number} is {state.status.value}") from err
    result = await invoice_runs.wait_for_action(client, workflow_id, action.action_id)
    assert result is not None
    return result
