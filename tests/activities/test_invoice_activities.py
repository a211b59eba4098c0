"""Invoice database activities on real PostgreSQL: a repeated call changes nothing; numbers have no gaps."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime

import pytest
from sqlalchemy import func
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select
from temporalio.testing import ActivityEnvironment

from activities.invoices import InvoiceActivities
from billflow.db import Database
from models.clients import Client
from models.enums import InvoiceStatus
from models.invoices import Invoice, InvoiceLine
from models.workflow_io import InvoiceTransition, IssuedInvoice, RecordInvoiceInput, RecordPaymentInput
from tests.factories import make_booking
from tests.workflows.support import BOOKING_TOTAL, payment, rows


@pytest.fixture
def activities(db: Database) -> InvoiceActivities:
    return InvoiceActivities(db)


async def issue(activities: InvoiceActivities, **overrides: object) -> IssuedInvoice:
    booking = make_booking(issued_at=datetime.now(UTC), **overrides)
    return await ActivityEnvironment().run(
        activities.record_invoice, RecordInvoiceInput(booking=booking, workflow_id=booking.workflow_id)
    )


async def count(db: Database, statement: object) -> int:
    async with db.session() as session:
        return (await session.exec(statement)).one()  # type: ignore[call-overload,no-any-return]


async def test_record_invoice_twice_creates_one_invoice(activities: InvoiceActivities, db: Database) -> None:
    booking = make_booking(issued_at=datetime.now(UTC))
    data = RecordInvoiceInput(booking=booking, workflow_id=booking.workflow_id)
    first = await ActivityEnvironment().run(activities.record_invoice, data)
    second = await ActivityEnvironment().run(activities.record_invoice, data)

    assert second == first
    assert first.total_minor == BOOKING_TOTAL and first.status is InvoiceStatus.open
    by_source = select(func.count()).select_from(Invoice).where(col(Invoice.source_key) == booking.source_key)
    assert await count(db, by_source) == 1
    lines = select(func.count()).select_from(InvoiceLine).where(col(InvoiceLine.invoice_id) == first.invoice_id)
    assert await count(db, lines) == 2
    clients = select(func.count()).select_from(Client).where(col(Client.external_id) == booking.client.external_id)
    assert await count(db, clients) == 1
    assert (await rows(db, booking.workflow_id)).event_kinds == ["invoice.issued"]


async def test_record_payment_twice_records_one_payment(activities: InvoiceActivities, db: Database) -> None:
    invoice = await issue(activities)
    data = RecordPaymentInput(invoice_id=invoice.invoice_id, workflow_id="wf", payment=payment(10_000))
    first = await activities.record_payment(data)
    second = await activities.record_payment(data)

    assert (first.recorded, second.recorded) == (True, False)
    assert first.amount_paid_minor == second.amount_paid_minor == 10_000
    assert second.status is InvoiceStatus.partially_paid
    async with db.session() as session:
        stored = await session.get(Invoice, invoice.invoice_id)
    assert stored is not None and stored.amount_paid_minor == 10_000
    found = await rows(db, stored.workflow_id)
    assert len(found.payments) == 1
    assert found.count_events("payment.received") == 1


async def test_full_payment_settles_the_invoice(activities: InvoiceActivities) -> None:
    invoice = await issue(activities)
    received = payment()
    outcome = await activities.record_payment(
        RecordPaymentInput(invoice_id=invoice.invoice_id, workflow_id="wf", payment=received)
    )
    assert (outcome.status, outcome.amount_paid_minor) == (InvoiceStatus.paid, BOOKING_TOTAL)


async def test_apply_transition_twice_applies_once(activities: InvoiceActivities, db: Database) -> None:
    invoice = await issue(activities)
    change = InvoiceTransition(
        invoice_id=invoice.invoice_id,
        workflow_id="wf",
        event_key=f"wf-{uuid.uuid4().hex}:overdue",
        kind="overdue",
        message="The due date passed unpaid",
    )
    first = await activities.apply_transition(change)
    async with db.session() as session:
        after_first = await session.get(Invoice, invoice.invoice_id)
    second = await activities.apply_transition(change)
    async with db.session() as session:
        after_second = await session.get(Invoice, invoice.invoice_id)

    assert first.status is second.status is InvoiceStatus.overdue
    assert after_first is not None and after_second is not None
    assert after_second.overdue_at == after_first.overdue_at
    assert after_second.updated_at == after_first.updated_at
    assert (await rows(db, after_second.workflow_id)).count_events("invoice.overdue") == 1


async def test_concurrent_issue_hands_out_gap_free_numbers(activities: InvoiceActivities, db: Database) -> None:
    # A year no other test issues in, so the counter starts at 1 here.
    issued_at = datetime(2031, 6, 1, 12, tzinfo=UTC)
    bookings = [make_booking(issued_at=issued_at) for _ in range(30)]
    results = await asyncio.gather(
        *(activities.record_invoice(RecordInvoiceInput(booking=b, workflow_id=b.workflow_id)) for b in bookings)
    )
    numbers = sorted(r.number for r in results)
    assert numbers == [f"INV-2031-{n:06d}" for n in range(1, 31)]


async def test_unknown_invoice_is_a_non_retryable_error(activities: InvoiceActivities) -> None:
    from temporalio.exceptions import ApplicationError

    with pytest.raises(ApplicationError) as raised:
        await activities.record_payment(RecordPaymentInput(invoice_id=987_654_321, workflow_id="wf", payment=payment()))
    assert raised.value.non_retryable and raised.value.type == "InvoiceNotFound"


async def test_a_rolled_back_issue_returns_its_number(activities: InvoiceActivities) -> None:
    issued_at = datetime(2032, 6, 1, 12, tzinfo=UTC)  # a year of its own: the counter starts at 1
    first = make_booking(issued_at=issued_at)
    one = await activities.record_invoice(RecordInvoiceInput(booking=first, workflow_id=first.workflow_id))
    clash = make_booking(issued_at=issued_at)
    with pytest.raises(IntegrityError):  # workflow_id is unique: fails after the number was drawn
        await activities.record_invoice(RecordInvoiceInput(booking=clash, workflow_id=first.workflow_id))
    two = await activities.record_invoice(RecordInvoiceInput(booking=clash, workflow_id=clash.workflow_id))

    assert (one.number, two.number) == ("INV-2032-000001", "INV-2032-000002")
