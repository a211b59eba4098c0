"""Staff actions on an invoice (mark paid, pause, resume, extend, void, write off, resend), shared by API and CLI.

The rules in workflows.invoice_rules are checked against the live state first, so a caller gets the reason at
once (HTTP 409, CLI error) instead of a silently rejected signal; the workflow checks them again when it applies
the action, so a race between two staff members cannot break an invoice.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from pydantic import BaseModel
from temporalio.client import Client
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode

from activities.email import EmailActivities
from billflow.config import Settings
from billflow.db import Database
from billflow.email import build_email_sender
from billflow.repositories import invoices as invoices_repo
from billflow.repositories import messages as messages_repo
from billflow.repositories import payment_lookups
from billflow.repositories import run_outbox as outbox_repo
from billflow.repositories import timeline as timeline_repo
from billflow.services import invoice_runs, invoicing
from billflow.services.invoice_state import state_of_invoice
from models.enums import EmailKind, InvoiceStatus
from models.invoices import Invoice
from models.workflow_io import (
    InvoiceState,
    MarkPaid,
    PaymentReceived,
    ResendEmail,
    SendEmailInput,
    SentEmail,
    StaffAction,
    VoidInvoice,
)
from workflows.invoice_rules import STILL_ISSUING, rejection_reason


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


def refused_by_recorded_facts(invoice: Invoice, action: StaffAction) -> str | None:
    """A payment is committed before its run hears of it (the outbox relays the signal after), so the recorded
    facts refuse first what the run's own view would still accept."""
    if InvoiceStatus(invoice.status).is_final:
        return f"invoice {invoice.number} is {invoice.status}"
    if isinstance(action, VoidInvoice) and invoice.amount_paid_minor > 0:
        return "invoice has payments: write it off or refund instead of voiding"
    return None


async def perform_action(db: Database, client: Client, *, number: str, action: StaffAction) -> InvoiceState:
    """Apply the action and return the resulting state; ActionRejected with the reason if it does not apply.

    Pause, resume, extend, void and write off are Workflow Updates: one call, refused by the run's validator
    before anything is written, answered with the state. A payment (mark paid) is a fact: recorded at once, never
    waiting on the workflow (`mark_paid`). Resolve dispute is still signalled and awaited."""
    if isinstance(action, MarkPaid):
        return await mark_paid(db, number=number, action=action)
    async with db.session() as session:
        invoice = await invoices_repo.get_invoice(session, number=number)
    if invoice is None:
        raise InvoiceNotFound(f"no invoice numbered {number}")
    if (refused := refused_by_recorded_facts(invoice, action)) is not None:
        raise ActionRejected(refused)
    workflow_id = invoice.workflow_id
    if isinstance(action, invoice_runs.AnsweredAction):
        return await _execute_once_running(client, invoice, action)
    state = await _state_once_running(client, invoice)
    reason = rejection_reason(state, action, now=datetime.now(UTC))
    if reason is not None:
        raise ActionRejected(reason)
    try:
        await invoice_runs.send_action(client, workflow_id, action)
    except invoice_runs.WorkflowClosed as err:
        raise ActionRejected(f"invoice {number} is {state.status.value}") from err
    result = await invoice_runs.wait_for_action(client, workflow_id, action.action_id)
    assert result is not None
    if result.processed_action_ids[-1:] == [action.action_id] and result.last_rejection:
        raise ActionRejected(result.last_rejection)  # another change got there first
    return result


# The answer to a booking comes before the outbox relays its run's start and before the run has loaded the
# recorded invoice; an action sent in that gap waits this long for the run instead of being refused.
RUN_START_WAIT = 10.0


async def _execute_once_running(client: Client, invoice: Invoice, action: invoice_runs.AnsweredAction) -> InvoiceState:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + RUN_START_WAIT
    while True:
        try:
            return await invoice_runs.execute_action(client, invoice.workflow_id, action)
        except invoice_runs.ActionRefused as err:
            if err.reason != STILL_ISSUING or loop.time() > deadline:
                raise ActionRejected(err.reason) from err
        except invoice_runs.WorkflowClosed as err:
            # Not found or closed while the recorded invoice is open: its start (or restart) is still in the outbox.
            if loop.time() > deadline:
                raise ActionRejected(f"invoice {invoice.number} is {invoice.status}: its run has not started") from err
        await asyncio.sleep(0.05)


async def _state_once_running(client: Client, invoice: Invoice) -> InvoiceState:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + RUN_START_WAIT
    while True:
        try:
            state = await invoice_runs.query_state(client, invoice.workflow_id)
        except RPCError as err:
            if err.status is not RPCStatusCode.NOT_FOUND:
                raise
            state = None
        if state is not None:
            return state
        if loop.time() > deadline:
            raise ActionRejected(f"invoice {invoice.number} is still being issued")
        await asyncio.sleep(0.05)


MANUAL_PROVIDER = "manual"  # the same provider and reference the workflow used for mark-paid signals


async def mark_paid(db: Database, *, number: str, action: MarkPaid) -> InvoiceState:
    """Record the staff's payment and the invoice's new status in one transaction, with a `payment_recorded`
    signal in the outbox: the answer never waits on the worker. The same action id records once (a retried
    request answers as the first did)."""
    async with db.session() as session:
        invoice = await invoices_repo.get_invoice(session, number=number, for_update=True)
        if invoice is None:
            raise InvoiceNotFound(f"no invoice numbered {number}")
        assert invoice.id is not None
        repeated = await payment_lookups.get_payment(session, provider=MANUAL_PROVIDER, reference=action.action_id)
        if repeated is None:
            status = InvoiceStatus(invoice.status)
            if status.is_final:
                raise ActionRejected(f"invoice {number} is {status.value}")
            if action.amount_minor is not None and action.amount_minor > invoice.balance_minor:
                raise ActionRejected(f"amount {action.amount_minor} exceeds the balance {invoice.balance_minor}")
            payment = PaymentReceived(
                provider=MANUAL_PROVIDER,
                provider_reference=action.action_id,
                amount_minor=action.amount_minor or invoice.balance_minor,
                currency=invoice.currency,
                received_at=datetime.now(UTC),
                method=action.method,
            )
            outcome = await invoicing.record_payment(session, invoice_id=invoice.id, payment=payment, note=action.note)
            if outcome.rejected_reason:
                raise ActionRejected(outcome.rejected_reason)
            await outbox_repo.enqueue_signal(
                session,
                workflow_id=invoice.workflow_id,
                name=outbox_repo.PAYMENT_RECORDED,
                payload=payment,
                key=f"payment:{MANUAL_PROVIDER}:{action.action_id}",
            )
        await session.refresh(invoice)
    return _recorded_state(invoice, action_id=action.action_id)


def _recorded_state(invoice: Invoice, *, action_id: str) -> InvoiceState:
    """The invoice as committed (reminders are the run's to plan: not listed in this answer)."""
    return state_of_invoice(invoice, processed_action_ids=[action_id])


class ResendResult(BaseModel):
    number: str
    kind: EmailKind
    message_id: int
    to_email: str
    status: str
    already_sent: bool  # True when this request id had already been resent: nothing went out again


RESENDABLE = (EmailKind.invoice_issued, EmailKind.reminder, EmailKind.overdue, EmailKind.receipt)


class EmailFailed(Exception):
    """The email provider refused the message."""


async def resend_email(
    db: Database,
    settings: Settings,
    *,
    number: str,
    kind: EmailKind,
    request_id: str,
    actor: str = "staff",
    temporal: Client | None = None,
) -> ResendResult:
    """Send the last email of `kind` again, under a new idempotency key per staff request (`request_id`).

    While the invoice's run is open the resend is its Update (issue 12.3): the run's validator refuses with the
    reason, and the run sends it through its own email path, in order with its reminders. A settled invoice's run
    has ended (a receipt asked for again): then it goes through the same send-once path directly (claim the row,
    then call the provider). Either way the key is the same, so a repeated request sends nothing more.
    """
    if kind not in RESENDABLE:
        raise ActionRejected(f"{kind.value} emails cannot be resent")
    async with db.session() as session:
        invoice = await invoices_repo.get_invoice(session, number=number)
        if invoice is None:
            raise InvoiceNotFound(f"no invoice numbered {number}")
        assert invoice.id is not None
        previous = await messages_repo.list_messages(session, invoice_id=invoice.id, limit=500)
    last = next((m for m in previous if m.kind == kind.value), None)  # newest first
    if last is None:
        raise ActionRejected(f"no {kind.value} email has been sent for invoice {number}")
    sent = None
    if temporal is not None:
        action = ResendEmail(action_id=request_id[:64], actor=actor, kind=kind, reminder_step=last.reminder_step)
        try:
            sent = await invoice_runs.resend_email(temporal, invoice.workflow_id, action)
        except invoice_runs.ActionRefused as err:
            raise ActionRejected(err.reason) from err
        except invoice_runs.EmailNotSent as err:
            raise EmailFailed(str(err)) from err
        except invoice_runs.WorkflowClosed:
            async with db.session() as session:  # the run ended meanwhile: the status it left decides
                invoice = await invoices_repo.get_invoice(session, number=number) or invoice
    key = f"{invoice.workflow_id}:resend-{kind.value}-{request_id[:64]}"
    if sent is None:
        sent = await _resend_directly(db, settings, invoice=invoice, kind=kind, key=key, step=last.reminder_step)
    async with db.session() as session:
        message = await messages_repo.get_message(session, message_id=sent.message_id)
        assert message is not None
        await timeline_repo.add_event(
            session,
            client_id=invoice.client_id,
            invoice_id=invoice.id,
            kind="email.resent",
            message=f"{kind.value} email resent to {message.to_email} by {actor}",
            data={"message_id": sent.message_id, "actor": actor},
            key=f"resend:{key}",
        )
    return ResendResult(
        number=number,
        kind=kind,
        message_id=sent.message_id,
        to_email=message.to_email,
        status=message.status,
        already_sent=sent.already_sent,
    )


async def _resend_directly(
    db: Database, settings: Settings, *, invoice: Invoice, kind: EmailKind, key: str, step: int | None
) -> SentEmail:
    """The resend of an invoice whose run has ended: the same rules as the run's validator, then the send-once
    email path without the workflow."""
    status = InvoiceStatus(invoice.status)
    if kind is EmailKind.receipt and status is not InvoiceStatus.paid:
        raise ActionRejected(f"invoice {invoice.number} is {status.value}: no receipt to resend")
    if kind is not EmailKind.receipt and status.is_final:
        raise ActionRejected(f"invoice {invoice.number} is {status.value}: nothing to ask the client for")
    assert invoice.id is not None
    sender = EmailActivities(db, build_email_sender(settings), settings)
    try:
        return await sender.send_invoice_email(
            SendEmailInput(invoice_id=invoice.id, kind=kind, idempotency_key=key, reminder_step=step)
        )
    except ApplicationError as err:
        raise EmailFailed(str(err)) from err
