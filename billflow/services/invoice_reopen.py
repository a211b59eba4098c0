"""An invoice that reopens after its run closed gets its collection back (issue 11, item 13).

A refund of a paid invoice reopens it in PostgreSQL (partially paid, balance > 0) while its workflow run has
completed as "paid". A new run is started under the invoice's workflow id (ID reuse is allowed once a run has
closed) with the invoice's state rebuilt from the database: it records no second invoice or pay link (the state is
carried, not issued), sends no second "invoice issued" email (marked sent; its idempotency key is taken anyway),
publishes true search attributes (InvoiceStatus, AmountDueMinor, ClientId ...) from its first task, and resumes
the reminders the invoice's policy has left. Starting it is idempotent: a run already going is used as it is.
"""

from __future__ import annotations

import logging

from temporalio.client import Client, WorkflowExecutionStatus, WorkflowHandle

from billflow import schedule
from billflow.db import Database
from billflow.repositories import invoices as invoices_repo
from billflow.repositories import messages as messages_repo
from billflow.repositories import payments as payments_repo
from billflow.services import invoice_runs
from billflow.services.invoice_state import state_of_invoice
from models.enums import EmailKind, InvoiceStatus, PaymentKind
from models.invoices import Invoice
from models.money import format_money
from models.workflow_io import InvoiceState, InvoiceWorkflowInput, ReminderPolicy
from workflows.search_attributes import WORKSPACE_ID

log = logging.getLogger(__name__)


async def reopen_if_unsettled(db: Database, temporal: Client, *, invoice_id: int) -> WorkflowHandle | None:
    """Start the invoice's collection again if it is unsettled while its run has closed; None if nothing to do."""
    async with db.session() as session:
        invoice = await invoices_repo.get_invoice(session, invoice_id=invoice_id)
        if invoice is None or InvoiceStatus(invoice.status).is_final or invoice.balance_minor <= 0:
            return None
        messages = await messages_repo.list_messages(session, invoice_id=invoice_id, limit=1000)
        payments = await payments_repo.list_payments(session, invoice_id=invoice_id)
    handle = temporal.get_workflow_handle(invoice.workflow_id)
    described = await handle.describe()
    if described.status is WorkflowExecutionStatus.RUNNING:
        return None  # the run applies the change itself
    previous, had_workspace_id = await _last_input(temporal, handle)
    sent_steps = {m.reminder_step for m in messages if m.reminder_step is not None}
    escalated = any(m.kind == EmailKind.escalation for m in messages)
    state = _state_of(invoice, previous.booking.reminder_policy, sent_steps=sent_steps, escalated=escalated)
    # Settled again later, it gets a receipt of its own; the same refund reopening twice keeps one key.
    refunds = sum(1 for p in payments if p.kind == PaymentKind.refund)
    state.receipt_key = f"receipt-after-refund-{refunds}"
    started = await invoice_runs.restart_invoice(
        temporal,
        InvoiceWorkflowInput(
            booking=previous.booking,
            carried_state=state,
            max_history_events=previous.max_history_events,
            reopened=True,
            client_id=invoice.client_id,
            # A run started before workspaces keeps its old child ids in the new run, whose start sets WorkspaceId.
            workspace_ids=previous.workspace_ids if previous.workspace_ids is not None else had_workspace_id,
        ),
        workflow_id=invoice.workflow_id,
        task_queue=described.task_queue,
        summary=f"Invoice {invoice.number} reopened: {format_money(state.balance_minor, state.currency)} due again",
    )
    log.info("invoice %s reopened (balance %s): new run %s", invoice.number, state.balance_minor, started.run_id)
    return started


async def _last_input(temporal: Client, handle: WorkflowHandle) -> tuple[InvoiceWorkflowInput, bool]:
    """The input of the invoice's latest run (its booking carries the reminder policy the invoice runs), and
    whether that run started with a WorkspaceId."""
    async for event in handle.fetch_history_events():
        started = event.workflow_execution_started_event_attributes
        [found] = await temporal.data_converter.decode(started.input.payloads, [InvoiceWorkflowInput])
        assert isinstance(found, InvoiceWorkflowInput)
        return found, WORKSPACE_ID.name in started.search_attributes.indexed_fields
    raise LookupError(f"workflow {handle.id} has no history")


def _state_of(invoice: Invoice, policy: ReminderPolicy, *, sent_steps: set[int], escalated: bool) -> InvoiceState:
    assert invoice.id is not None
    reminders = schedule.plan_reminders(
        policy, invoice.timezone, issued_at=invoice.issued_at, due_date=invoice.due_date, due_at=invoice.due_at
    )
    for step in reminders:
        step.sent = step.step in sent_steps
    return state_of_invoice(invoice, reminders=reminders, escalated=escalated)
