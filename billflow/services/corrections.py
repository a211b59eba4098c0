"""Staff corrections of an issued invoice: a partial credit note (never an edit), emailed to the client with its
PDF and told to the invoice's running workflow so its reminders ask only for what is left."""

from __future__ import annotations

import logging

from temporalio.client import Client

from activities.email import EmailActivities
from billflow.config import Settings
from billflow.db import Database
from billflow.email import build_email_sender
from billflow.repositories import invoices as invoices_repo
from billflow.services import credit_notes, invoice_runs
from models.credit_notes import CreditNote
from models.enums import CreditNoteKind, EmailKind, InvoiceStatus
from models.workflow_io import CreditNoteIssued, SendEmailInput

log = logging.getLogger(__name__)


class InvoiceNotFound(LookupError):
    pass


async def credit_invoice(
    db: Database,
    temporal: Client,
    settings: Settings,
    *,
    number: str,
    amount_minor: int,
    reason: str,
    request_id: str,
) -> CreditNote:
    """Issue a partial credit note once per `request_id`, then tell the workflow and email the client."""
    async with db.session() as session:
        invoice = await invoices_repo.get_invoice(session, number=number)
        if invoice is None:
            raise InvoiceNotFound(f"no invoice numbered {number}")
        assert invoice.id is not None
        if invoice.status == InvoiceStatus.void:
            raise credit_notes.CreditNoteRefused(f"number: invoice {number} is void, its credit note is issued")
        if amount_minor >= credit_notes.creditable_minor(invoice) and invoice.amount_paid_minor == 0:
            raise credit_notes.CreditNoteRefused(
                "amount_minor: crediting all of an unpaid invoice cancels it: void the invoice instead"
            )
        note = await credit_notes.issue_credit_note(
            session,
            invoice_id=invoice.id,
            kind=CreditNoteKind.partial,
            reason=reason,
            key=f"staff:{invoice.id}:{request_id}",
            amount_minor=amount_minor,
        )
        assert note is not None and note.id is not None
        await session.refresh(invoice)
        issued = CreditNoteIssued(
            number=note.number, credited_minor=invoice.credited_minor, status=InvoiceStatus(invoice.status)
        )
    try:
        await invoice_runs.send_credit_note(temporal, invoice.workflow_id, issued)
    except invoice_runs.WorkflowClosed:
        pass  # a settled invoice's run has ended: the database is the record
    await send_credit_note_email(db, settings, invoice_id=invoice.id, note=note)
    return note


async def send_credit_note_email(db: Database, settings: Settings, *, invoice_id: int, note: CreditNote) -> None:
    """The client's copy, once per credit note (its number is the idempotency key)."""
    assert note.id is not None
    data = SendEmailInput(
        invoice_id=invoice_id,
        kind=EmailKind.credit_note,
        idempotency_key=f"credit-note:{note.number}",
        credit_note_id=note.id,
    )
    try:
        await EmailActivities(db, build_email_sender(settings), settings).send_invoice_email(data)
    except Exception:  # the credit note stands; the email's row records what happened
        log.exception("could not email credit note %s", note.number)
