"""One way a booking becomes an invoice: issued in the caller's transaction, its run started through the outbox.

Every path that turns a booking into an invoice (booking events, Cal.com, the CLI, the demo) meets here. In the
request's own transaction: the client is upserted with its reminder settings applied, the invoice and its lines
are recorded with their gap-free number by `invoicing.issue_invoice` (the same function the run's `record_invoice`
activity calls, which then finds this invoice by its source key and goes on), and the run's start is written to
the outbox (billflow/runs/outbox_relay.py relays it). So the answer carries the number without waiting on the
worker or on Temporal, and a Temporal outage neither refuses nor loses a booking (docs/intake.md).

The number's counter row stays locked until commit, so it is taken last: the outbox rows and the client's
settings are written and read first (issue 12: intake p99 under 100 ms at 50 events/s).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import text
from sqlmodel.ext.asyncio.session import AsyncSession

from billflow.config import Settings
from billflow.db import Database
from billflow.repositories import invoices as invoices_repo
from billflow.repositories import run_outbox as outbox_repo
from billflow.services import clients as clients_service
from billflow.services import invoicing
from billflow.services.business_profile import BusinessProfile, business_profile_in
from billflow.services.invoice_runs import run_summary
from models.columns import utcnow
from models.invoices import Invoice
from models.run_outbox import InvoiceRunStart
from models.workflow_io import BookingIn, InvoiceWorkflowInput, PauseReminders, PaymentReceived


@dataclass(frozen=True)
class Issued:
    """The booking's invoice, and whether this call issued it (False: it was there already)."""

    invoice: Invoice
    new: bool


async def issue_booking(
    session: AsyncSession,
    settings: Settings,
    booking: BookingIn,
    *,
    paid_with: PaymentReceived | None = None,
    note: str | None = None,
    defer_number: bool = False,
    profile: BusinessProfile | None = None,
) -> Issued:
    """Issue the booking's invoice once (by its source key) and owe its run's start to the outbox.

    `paid_with`: a payment made with the booking (Cal.com paid): recorded with the invoice, and delivered with
    the start so the run settles before its first email. Commits nothing itself: the caller's transaction does.
    With `defer_number` a new invoice comes back with a placeholder number: the caller commits, then calls
    `number_now` (the counter row is then locked only while one autocommit statement runs).
    """
    # Two deliveries of one booking (two event ids, a Cal.com created and paid at once) take turns here rather
    # than both take a number and one fail on the source key.
    await session.execute(text("SELECT pg_advisory_xact_lock(hashtext(:key))"), {"key": booking.source_key})
    existing = await invoices_repo.get_invoice(session, source_key=booking.source_key)
    if existing is not None:
        if paid_with is not None:  # paid as the booking was made, after another delivery issued its invoice
            await _record_payment(session, existing, paid_with, note=note)
        return Issued(existing, new=False)
    prepared = await clients_service.prepare_client_invoice(session, booking)
    booking = prepared.booking
    if booking.issued_at is None:  # fixed here: the run's record_invoice gets the same booking and agrees
        booking = booking.model_copy(update={"issued_at": utcnow()})
    await _owe_start(session, settings, booking, paused=prepared.paused, paid_with=paid_with)
    if profile is None:  # the seller: the booking's workspace (a caller that checked it already passes it)
        profile = await business_profile_in(session, settings, workspace_id=booking.workspace_id)
    invoice = await invoicing.issue_invoice(
        session, booking=booking, workflow_id=booking.workflow_id, profile=profile, defer_number=True, known_new=True
    )
    if paid_with is not None:
        assert invoice.id is not None
        await invoicing.record_payment(session, invoice_id=invoice.id, payment=paid_with, note=note)
    if not defer_number:
        await invoicing.assign_number(session, invoice)  # last: the counter row stays locked until commit
    return Issued(invoice, new=True)


async def _owe_start(
    session: AsyncSession, settings: Settings, booking: BookingIn, *, paused: bool, paid_with: PaymentReceived | None
) -> None:
    start = InvoiceRunStart(
        input=InvoiceWorkflowInput(booking=booking),
        task_queue=settings.task_queue,
        summary=run_summary(booking),
        recorded_payment=paid_with,
    )
    workflow_id, workspace_id = booking.workflow_id, booking.workspace_id
    await outbox_repo.enqueue_start(
        session,
        workflow_id=workflow_id,
        name=outbox_repo.INVOICE_RUN,
        payload=start.model_dump(mode="json"),
        workspace_id=workspace_id,
    )
    if paused:  # a client whose reminders staff paused: the new invoice starts paused (after its start)
        action = PauseReminders(action_id=f"client-pause-{workflow_id}"[-64:], actor="client settings")
        await outbox_repo.enqueue_signal(
            session,
            workflow_id=workflow_id,
            name=outbox_repo.PAUSE_REMINDERS,
            payload=action,
            key=f"client-pause:{workflow_id}",
            workspace_id=workspace_id,
        )


async def _record_payment(
    session: AsyncSession, invoice: Invoice, payment: PaymentReceived, *, note: str | None
) -> None:
    """A payment on an invoice whose run may be going already: recorded here, the run told through the outbox
    (as billflow/services/payments.deliver_payment does, in the caller's transaction)."""
    assert invoice.id is not None
    outcome = await invoicing.record_payment(session, invoice_id=invoice.id, payment=payment, note=note)
    await outbox_repo.enqueue_signal(
        session,
        workflow_id=invoice.workflow_id,
        name=outbox_repo.PAYMENT_RECEIVED if outcome.rejected_reason else outbox_repo.PAYMENT_RECORDED,
        payload=payment,
        key=f"payment:{payment.provider}:{payment.provider_reference}",
        workspace_id=invoice.workspace_id,
    )


async def number_now(db: Database, invoice: Invoice) -> str:
    """Number an invoice committed with `defer_number`, on an autocommit connection: the gap-free counter is
    taken and the invoice numbered by one statement that commits by itself, so the counter row is locked only
    while it runs (a crash before it leaves the invoice to be numbered by its run's record_invoice step)."""
    async with db.autocommit() as conn:
        return await invoicing.assign_number(conn, invoice)


async def number_of_run(db: Database, workflow_id: str) -> Invoice | None:
    """The run's invoice with its number (numbered now if its intake stopped before doing so)."""
    async with db.session() as session:
        invoice = await invoices_repo.get_invoice(session, workflow_id=workflow_id)
    if invoice is not None:
        await number_now(db, invoice)
    return invoice
