"""Deposits: a booking that asks for one gets an advance-payment invoice at once (its own workflow,
`invoice-{source}-{booking}-deposit`, with reminders), and its final invoice when staff ask for it (API
`POST /v1/invoices/{deposit number}/final-invoice`, CLI `billflow invoice issue-final`), typically once the service
has been delivered. The final invoice runs as the booking's own workflow `invoice-{source}-{booking}`, bills every
line and deducts the deposit invoice line by line, referencing its number and date."""

from __future__ import annotations

from temporalio.client import Client

from billflow.db import Database
from billflow.repositories import invoices as invoices_repo
from billflow.services import invoice_runs
from models.enums import InvoiceKind, InvoiceStatus
from models.workflow_io import BookingIn


class DepositNotFound(LookupError):
    pass


class FinalInvoiceRefused(ValueError):
    pass


async def issue_final_invoice(db: Database, temporal: Client, *, deposit_number: str, task_queue: str) -> str:
    """Start the final invoice's workflow (once: its id comes from the booking); returns the workflow id."""
    async with db.session() as session:
        deposit = await invoices_repo.get_invoice(session, number=deposit_number)
    if deposit is None:
        raise DepositNotFound(f"no invoice numbered {deposit_number}")
    if deposit.kind != InvoiceKind.deposit or deposit.booking is None:
        raise FinalInvoiceRefused(f"number: {deposit_number} is not a deposit invoice")
    if deposit.status == InvoiceStatus.void:
        raise FinalInvoiceRefused(f"number: deposit invoice {deposit_number} is void; invoice the booking anew")
    booking = BookingIn.model_validate(deposit.booking)
    final = booking.final_booking(deposit_source_key=deposit.source_key)
    handle = await invoice_runs.start_invoice(temporal, final, task_queue=task_queue)
    return handle.id
