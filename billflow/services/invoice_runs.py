"""Starting invoice workflows and delivering signals to them: the one path the CLI, API and schedules share."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from temporalio.client import Client, WorkflowHandle, WorkflowUpdateFailedError
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import ApplicationError, WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from billflow.runs.updates import execute_answered_update
from billflow.services.invoicing import price_line
from models.money import format_money
from models.workflow_io import (
    ACTION_REJECTED,
    BookingIn,
    CreditNoteIssued,
    DisputeRaised,
    ExtendDueDate,
    InvoiceState,
    InvoiceWorkflowInput,
    MarkPaid,
    PauseReminders,
    PaymentFailed,
    PaymentProcessing,
    PaymentPromised,
    PaymentReceived,
    ResendEmail,
    ResolveDispute,
    ResumeReminders,
    SentEmail,
    StaffAction,
    TransferClaimed,
    VoidInvoice,
    WriteOff,
)
from workflows.invoice import InvoiceWorkflow
from workflows.search_attributes import start_attributes

# Staff action type -> the workflow's signal that carries it.
SIGNALS = {
    MarkPaid: InvoiceWorkflow.mark_paid,
    PauseReminders: InvoiceWorkflow.pause_reminders,
    ResumeReminders: InvoiceWorkflow.resume_reminders,
    ExtendDueDate: InvoiceWorkflow.extend_due_date,
    VoidInvoice: InvoiceWorkflow.void,
    WriteOff: InvoiceWorkflow.write_off,
    ResolveDispute: InvoiceWorkflow.resolve_dispute,
}
# Staff actions that answer through a Workflow Update (issue 12, item 3): the run's validator refuses with the
# reason before anything is written, and the update returns the state once the action is applied.
UPDATES: dict[type[StaffAction], Any] = {  # Any: each entry is an update method of its own action type
    PauseReminders: InvoiceWorkflow.apply_pause_reminders,
    ResumeReminders: InvoiceWorkflow.apply_resume_reminders,
    ExtendDueDate: InvoiceWorkflow.apply_extend_due_date,
    VoidInvoice: InvoiceWorkflow.apply_void,
    WriteOff: InvoiceWorkflow.apply_write_off,
}
AnsweredAction = PauseReminders | ResumeReminders | ExtendDueDate | VoidInvoice | WriteOff
# Collections (issue 16): payments in flight and the client's answers -> their signals.
COLLECTION_SIGNALS = {
    PaymentProcessing: InvoiceWorkflow.payment_processing,
    PaymentFailed: InvoiceWorkflow.payment_failed,
    TransferClaimed: InvoiceWorkflow.transfer_claimed,
    PaymentPromised: InvoiceWorkflow.payment_promised,
    DisputeRaised: InvoiceWorkflow.dispute_raised,
}


class WorkflowClosed(Exception):
    """The invoice's workflow has finished; the change must go straight to the database (or not at all)."""


class EmailNotSent(Exception):
    """The run tried the resend and the provider refused it (or did not answer)."""


class ActionRefused(Exception):
    """The run refused a staff action (its validator, or the main loop when a change raced ahead of it)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


async def start_invoice(
    client: Client, booking: BookingIn, *, task_queue: str, paid_with: PaymentReceived | None = None
) -> WorkflowHandle:
    """Start the invoice's workflow, or return the running/finished one for the same booking: never two.

    `paid_with` (a booking already paid elsewhere) is delivered with the start, so the payment is in the
    workflow's inbox before its first step and no reminder or "invoice issued" email can go out first.
    """
    legacy = await _legacy_run(client, booking)
    if legacy is not None:
        return legacy
    with_payment: dict[str, Any] = {}
    if paid_with is not None:
        with_payment = {"start_signal": InvoiceWorkflow.payment_received.__name__, "start_signal_args": [paid_with]}
    try:
        return await client.start_workflow(
            InvoiceWorkflow.run,
            InvoiceWorkflowInput(booking=booking),
            id=booking.workflow_id,
            task_queue=task_queue,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
            static_summary=run_summary(booking),
            search_attributes=start_attributes(
                workspace_id=booking.workspace_id, subscription_id=booking.subscription_id
            ),
            **with_payment,
        )
    except WorkflowAlreadyStartedError:  # the run finished already (paid, void): it is the booking's invoice
        return client.get_workflow_handle(booking.workflow_id)


async def _legacy_run(client: Client, booking: BookingIn) -> WorkflowHandle | None:
    """The booking's run under the id it had before workspaces (models/workflow_ids.py), if Temporal still
    knows one: a booking delivered again after the upgrade meets that run instead of starting a second."""
    handle = client.get_workflow_handle(booking.legacy_workflow_id)
    try:
        await handle.describe()
    except RPCError as err:
        if err.status is RPCStatusCode.NOT_FOUND:
            return None
        raise
    return handle


async def restart_invoice(
    client: Client, data: InvoiceWorkflowInput, *, workflow_id: str, task_queue: str, summary: str
) -> WorkflowHandle:
    """A new run under the invoice's workflow id once its run has closed (the invoice reopened): ID reuse is
    allowed for closed runs, and a run already going (two refunds at once) is used as it is."""
    try:
        return await client.start_workflow(
            InvoiceWorkflow.run,
            data,
            id=workflow_id,
            task_queue=task_queue,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE,
            static_summary=summary,
            search_attributes=start_attributes(
                workspace_id=data.booking.workspace_id, subscription_id=data.booking.subscription_id
            ),
        )
    except WorkflowAlreadyStartedError:
        return client.get_workflow_handle(workflow_id)


def run_summary(booking: BookingIn) -> str:
    """The run's static summary in the Temporal UI (its number, once issued, is in the current details)."""
    total = sum(price_line(line).total_minor for line in booking.lines)
    terms = f"{booking.payment_terms.days} days" if booking.payment_terms.days else str(booking.payment_terms)
    kind = {"deposit": "Deposit invoice", "final": "Final invoice"}.get(booking.document_kind.value, "Invoice")
    return (
        f"{kind} for booking {booking.source}/{booking.booking_id}: {format_money(total, booking.currency)}, "
        f"due {terms} after issue"
    )


async def query_state(client: Client, workflow_id: str, *, rpc_timeout: timedelta | None = None) -> InvoiceState | None:
    """The run's `status` query; `rpc_timeout` bounds the wait (no worker polling: the server holds the query)."""
    return await client.get_workflow_handle(workflow_id).query(InvoiceWorkflow.status, rpc_timeout=rpc_timeout)


async def send_payment(client: Client, workflow_id: str, payment: PaymentReceived) -> None:
    await _signal(client, workflow_id, InvoiceWorkflow.payment_received, payment)


async def send_action(client: Client, workflow_id: str, action: StaffAction) -> None:
    await _signal(client, workflow_id, SIGNALS[type(action)], action)


async def execute_action(client: Client, workflow_id: str, action: AnsweredAction) -> InvoiceState:
    """Apply a staff action through its Update and return the state after it; ActionRefused with the run's
    reason, WorkflowClosed if the run has ended. The action id is the update id: a retried call is answered
    once by the server, not applied twice."""
    state: InvoiceState = await execute_answered_update(
        client,
        workflow_id,
        UPDATES[type(action)],
        action,
        refused=ActionRefused,
        closed=lambda: WorkflowClosed(f"workflow {workflow_id} is not running"),
    )
    return state


async def resend_email(client: Client, workflow_id: str, action: ResendEmail) -> SentEmail:
    """Resend an email through the run's Update: ActionRefused if it does not apply, EmailNotSent if the
    provider refused it, WorkflowClosed once the run has ended (a settled invoice's receipt)."""
    handle = client.get_workflow_handle(workflow_id)
    try:
        # A fresh update id: a repeated request reaches the run again, whose email key answers "already sent".
        sent: SentEmail = await handle.execute_update(InvoiceWorkflow.apply_resend_email, action)
    except WorkflowUpdateFailedError as err:
        cause = err.cause
        if isinstance(cause, ApplicationError) and cause.type == ACTION_REJECTED:
            raise ActionRefused(cause.message) from err
        if isinstance(cause, ApplicationError) and cause.type == "EmailFailed":
            raise EmailNotSent(cause.message) from err
        raise
    except RPCError as err:
        if err.status is RPCStatusCode.NOT_FOUND:
            raise WorkflowClosed(f"workflow {workflow_id} is not running") from err
        raise
    return sent


async def send_collection(
    client: Client,
    workflow_id: str,
    item: PaymentProcessing | PaymentFailed | TransferClaimed | PaymentPromised | DisputeRaised,
) -> None:
    await _signal(client, workflow_id, COLLECTION_SIGNALS[type(item)], item)


async def wait_for_action(
    client: Client, workflow_id: str, action_id: str, *, timeout: timedelta = timedelta(seconds=10)
) -> InvoiceState | None:
    """Poll the status query until the workflow has applied the action (or finished); returns the state.

    For the actions still sent as signals (mark paid, resolve dispute) and for tests on the time-skipping
    server, which has no Updates; the other staff actions answer through `execute_action`."""
    handle = client.get_workflow_handle(workflow_id)
    deadline = asyncio.get_running_loop().time() + timeout.total_seconds()
    while True:
        state: InvoiceState | None = await handle.query(InvoiceWorkflow.status)
        done = state is not None and (action_id in state.processed_action_ids or state.status.is_final)
        if done or asyncio.get_running_loop().time() > deadline:
            return state
        await asyncio.sleep(0.05)


async def send_credit_note(client: Client, workflow_id: str, issued: CreditNoteIssued) -> None:
    """Tell the invoice's run about a credit note issued outside it; WorkflowClosed if it has ended."""
    await _signal(client, workflow_id, InvoiceWorkflow.credit_note_issued, issued)


async def _signal(client: Client, workflow_id: str, signal: object, arg: object) -> None:
    try:
        await client.get_workflow_handle(workflow_id).signal(signal, arg)  # type: ignore[call-overload]
    except RPCError as err:
        if err.status is RPCStatusCode.NOT_FOUND:
            raise WorkflowClosed(f"workflow {workflow_id} is not running") from err
        raise
