"""An invoice row as the state its run works on: what a staff action answers with when the run has closed, and
what a reopened run starts from."""

from __future__ import annotations

from typing import Any

from models.enums import InvoiceStatus
from models.invoices import Invoice
from models.workflow_io import InvoiceState


def state_of_invoice(invoice: Invoice, **run_fields: Any) -> InvoiceState:
    """The committed amounts, dates and settings of `invoice`; `run_fields` adds what only the run knows
    (reminders planned and sent, escalation, processed action ids)."""
    assert invoice.id is not None
    return InvoiceState(
        invoice_id=invoice.id,
        number=invoice.number,
        status=InvoiceStatus(invoice.status),
        currency=invoice.currency,
        total_minor=invoice.total_minor,
        amount_paid_minor=invoice.amount_paid_minor,
        credited_minor=invoice.credited_minor,
        issued_at=invoice.issued_at,
        due_date=invoice.due_date,
        due_at=invoice.due_at,
        timezone=invoice.timezone,
        payment_url=invoice.payment_url,
        issued_email_sent=True,
        paused=invoice.reminders_paused,
        paused_until=invoice.paused_until,
        **run_fields,
    )
