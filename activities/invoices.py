"""Database writes for the invoice workflow; each keyed so that a retry changes nothing."""

from __future__ import annotations

from temporalio import activity
from temporalio.exceptions import ApplicationError

from billflow.config import Settings, get_settings
from billflow.db import Database
from billflow.services import credit_notes, invoicing
from billflow.services.business_profile import current_business_profile
from models.enums import InvoiceStatus
from models.workflow_io import (
    InvoiceTransition,
    IssuedInvoice,
    PaymentOutcome,
    RecordInvoiceInput,
    RecordPaymentInput,
    TransitionResult,
)


class InvoiceActivities:
    """Run as local activities: short database transactions in the worker, no extra server round trip."""

    def __init__(self, db: Database, settings: Settings | None = None) -> None:
        self._db = db
        self._settings = settings or get_settings()

    @activity.defn
    async def record_invoice(self, data: RecordInvoiceInput) -> IssuedInvoice:
        async with self._db.session() as session:
            invoice = await invoicing.issue_invoice(
                session,
                booking=data.booking,
                workflow_id=data.workflow_id,
                profile=current_business_profile(self._settings),
            )
        assert invoice.id is not None
        return IssuedInvoice(
            invoice_id=invoice.id,
            number=invoice.number,
            client_id=invoice.client_id,
            currency=invoice.currency,
            total_minor=invoice.total_minor,
            amount_paid_minor=invoice.amount_paid_minor,
            status=InvoiceStatus(invoice.status),
            issued_at=invoice.issued_at,
            due_date=invoice.due_date,
            due_at=invoice.due_at,
            timezone=invoice.timezone,
            public_token=invoice.public_token,
        )

    @activity.defn
    async def record_payment(self, data: RecordPaymentInput) -> PaymentOutcome:
        try:
            async with self._db.session() as session:
                return await invoicing.record_payment(
                    session, invoice_id=data.invoice_id, payment=data.payment, note=data.note
                )
        except invoicing.InvoiceNotFound as err:
            raise ApplicationError(str(err), type="InvoiceNotFound", non_retryable=True) from err

    @activity.defn
    async def apply_transition(self, change: InvoiceTransition) -> TransitionResult:
        try:
            async with self._db.session() as session:
                status = await invoicing.apply_transition(session, change=change)
                credit_note = None
                if change.kind == "void":  # voiding an issued invoice issues its cancellation credit note
                    credit_note = await credit_notes.cancel_invoice(
                        session, invoice_id=change.invoice_id, change=change
                    )
                return TransitionResult(
                    status=status,
                    credit_note_id=credit_note.id if credit_note else None,
                    credited_minor=credit_note.total_minor if credit_note else 0,
                )
        except invoicing.InvoiceNotFound as err:
            raise ApplicationError(str(err), type="InvoiceNotFound", non_retryable=True) from err
