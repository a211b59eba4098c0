"""Invoice runs settled by payments: on time, after reminders, in parts, and with repeated signals."""

from __future__ import annotations

import pytest
from temporalio.testing import WorkflowEnvironment

from billflow.db import Database
from billflow.repositories import run_outbox as outbox_repo
from billflow.services import invoicing, staff_actions
from billflow.services.payments import deliver_payment
from models.enums import EmailKind, InvoiceStatus
from models.workflow_io import MarkPaid
from tests.workflows.support import (
    BOOKING_TOTAL,
    DAY,
    booking,
    issued,
    payment,
    rows,
    search_status,
    skip_to,
    start,
    until,
)
from workflows.invoice import InvoiceWorkflow

pytestmark = pytest.mark.usefixtures("worker")


async def test_paid_before_due_date_sends_receipt_and_no_reminders(
    time_env: WorkflowEnvironment, db: Database, task_queue: str
) -> None:
    data = booking(-3, 0, 3)
    handle = await start(time_env.client, data, task_queue)
    state = await issued(handle)
    assert state.status is InvoiceStatus.open
    assert state.payment_url and state.payment_url.startswith("http://billflow.test/pay/")

    await skip_to(time_env, state.due_at - 5 * DAY)
    await handle.signal(InvoiceWorkflow.payment_received, payment())
    outcome = await handle.result()

    assert (outcome.status, outcome.amount_paid_minor, outcome.reminders_sent) == (InvoiceStatus.paid, BOOKING_TOTAL, 0)
    found = await rows(db, data.workflow_id)
    assert found.invoice.status == InvoiceStatus.paid
    assert found.invoice.paid_at is not None
    assert found.invoice.payment_url == state.payment_url
    assert [p.amount_minor for p in found.payments] == [BOOKING_TOTAL]
    assert found.email_kinds == [(EmailKind.invoice_issued, None), (EmailKind.receipt, None)]
    assert found.event_kinds == ["invoice.issued", "payment.received"]
    assert await search_status(handle) == "paid"


async def test_paid_after_two_reminders(time_env: WorkflowEnvironment, db: Database, task_queue: str) -> None:
    data = booking(-5, -1, 3, 7)
    handle = await start(time_env.client, data, task_queue)
    state = await issued(handle)

    await skip_to(time_env, state.due_at - DAY / 2)  # after step 2 (-1d), before the due instant
    state = await until(handle, lambda s: s.steps_sent == 2)
    assert state.status is InvoiceStatus.open
    assert state.next_reminder_at == state.due_at + 3 * DAY
    await handle.signal(InvoiceWorkflow.payment_received, payment())
    outcome = await handle.result()

    assert (outcome.status, outcome.reminders_sent) == (InvoiceStatus.paid, 2)
    found = await rows(db, data.workflow_id)
    assert found.invoice.status == InvoiceStatus.paid
    assert found.invoice.overdue_at is None
    assert found.email_kinds == [
        (EmailKind.invoice_issued, None),
        (EmailKind.reminder, 1),
        (EmailKind.reminder, 2),
        (EmailKind.receipt, None),
    ]


async def test_partial_payment_keeps_reminding_for_the_balance_then_receipt_once(
    time_env: WorkflowEnvironment, db: Database, task_queue: str
) -> None:
    data = booking(-3, 3, 10)
    handle = await start(time_env.client, data, task_queue)
    state = await issued(handle)

    await handle.signal(InvoiceWorkflow.payment_received, payment(10_000))
    state = await until(handle, lambda s: s.amount_paid_minor == 10_000)
    assert (state.status, state.balance_minor) == (InvoiceStatus.partially_paid, BOOKING_TOTAL - 10_000)
    assert await search_status(handle) == "partially_paid"
    middle = await rows(db, data.workflow_id)
    assert (middle.invoice.status, middle.invoice.amount_paid_minor) == (InvoiceStatus.partially_paid, 10_000)

    await skip_to(time_env, state.due_at + 4 * DAY)  # two steps fall due, and the due date passes
    state = await until(handle, lambda s: s.steps_sent == 2)
    assert state.status is InvoiceStatus.overdue
    await handle.signal(InvoiceWorkflow.payment_received, payment(BOOKING_TOTAL - 10_000))
    outcome = await handle.result()

    assert (outcome.status, outcome.amount_paid_minor) == (InvoiceStatus.paid, BOOKING_TOTAL)
    found = await rows(db, data.workflow_id)
    assert (found.invoice.status, found.invoice.amount_paid_minor) == (InvoiceStatus.paid, BOOKING_TOTAL)
    assert sorted(p.amount_minor for p in found.payments) == [10_000, BOOKING_TOTAL - 10_000]
    assert found.email_kinds == [
        (EmailKind.invoice_issued, None),
        (EmailKind.reminder, 1),
        (EmailKind.overdue, 2),
        (EmailKind.receipt, None),
    ]
    assert found.count_events("payment.received") == 2


async def test_duplicate_payment_signal_records_one_payment(
    time_env: WorkflowEnvironment, db: Database, task_queue: str
) -> None:
    data = booking()
    handle = await start(time_env.client, data, task_queue)
    await issued(handle)

    first = payment(10_000, reference="pi_duplicate")
    await handle.signal(InvoiceWorkflow.payment_received, first)
    await handle.signal(InvoiceWorkflow.payment_received, first)
    await handle.signal(InvoiceWorkflow.payment_received, payment(BOOKING_TOTAL - 10_000))
    outcome = await handle.result()  # the inbox is applied in order: both copies were seen before this one

    assert outcome.amount_paid_minor == BOOKING_TOTAL
    found = await rows(db, data.workflow_id)
    assert [p.provider_reference for p in found.payments].count("pi_duplicate") == 1
    assert len(found.payments) == 2
    assert found.invoice.amount_paid_minor == BOOKING_TOTAL
    assert found.count_events("payment.received") == 2


async def test_payment_queued_behind_the_settling_one_is_still_recorded(
    time_env: WorkflowEnvironment, db: Database, task_queue: str
) -> None:
    data = booking()
    handle = await start(time_env.client, data, task_queue)
    await issued(handle)

    await handle.signal(InvoiceWorkflow.payment_received, payment())
    await handle.signal(InvoiceWorkflow.payment_received, payment(1_000, reference="pi_late_extra"))
    outcome = await handle.result()

    found = await rows(db, data.workflow_id)
    assert {p.provider_reference for p in found.payments} >= {"pi_late_extra"}
    assert found.invoice.amount_paid_minor == BOOKING_TOTAL + 1_000 == outcome.amount_paid_minor
    assert found.invoice.status == InvoiceStatus.paid
    assert found.email_kinds.count((EmailKind.receipt, None)) == 1


async def test_payment_in_another_currency_is_rejected_and_changes_nothing(
    time_env: WorkflowEnvironment, db: Database, task_queue: str
) -> None:
    data = booking()
    handle = await start(time_env.client, data, task_queue)
    await issued(handle)

    await handle.signal(InvoiceWorkflow.payment_received, payment(currency="EUR"))
    state = await until(handle, lambda s: s.last_rejection is not None)
    assert "currency" in (state.last_rejection or "")
    assert (state.status, state.amount_paid_minor) == (InvoiceStatus.open, 0)
    found = await rows(db, data.workflow_id)
    assert (found.invoice.status, found.invoice.amount_paid_minor, found.payments) == (InvoiceStatus.open, 0, [])
    assert found.count_events("invoice.rejected") == 1

    await handle.signal(InvoiceWorkflow.payment_received, payment())
    assert (await handle.result()).status is InvoiceStatus.paid


# --- facts first (issue 12): the request records the payment, the run is told through the outbox -------------


async def test_payment_recorded_by_the_request_is_paid_before_the_run_hears_and_written_once(
    time_env: WorkflowEnvironment, db: Database, task_queue: str
) -> None:
    data = booking(-3, 0, 3)
    handle = await start(time_env.client, data, task_queue)
    await issued(handle)
    invoice = (await rows(db, data.workflow_id)).invoice

    outcome = await deliver_payment(db, invoice=invoice, payment=payment())

    assert (outcome.recorded, outcome.status) == (True, InvoiceStatus.paid)  # committed before any answer
    assert (await rows(db, data.workflow_id)).invoice.status == InvoiceStatus.paid
    await until(handle, lambda s: s.status is InvoiceStatus.paid)  # the relay's signal arrived
    result = await handle.result()
    assert (result.status, result.reminders_sent) == (InvoiceStatus.paid, 0)
    found = await rows(db, data.workflow_id)
    assert len(found.payments) == 1
    assert found.count_events("payment.received") == 1
    assert found.email_kinds == [(EmailKind.invoice_issued, None), (EmailKind.receipt, None)]
    async with db.session() as session:
        [message] = await outbox_repo.list_messages(session, workflow_id=data.workflow_id)
    assert (message.name, message.delivered_at is not None) == ("payment_recorded", True)


async def test_reminder_due_just_after_a_payment_committed_outside_the_run_is_not_sent(
    time_env: WorkflowEnvironment, db: Database, task_queue: str
) -> None:
    data = booking(-3, 0, 3)
    handle = await start(time_env.client, data, task_queue)
    state = await issued(handle)
    invoice = (await rows(db, data.workflow_id)).invoice
    assert invoice.id is not None
    # Committed, but its signal not yet delivered (no outbox row here): the run still thinks the invoice is open.
    async with db.session() as session:
        await invoicing.record_payment(session, invoice_id=invoice.id, payment=payment())

    await skip_to(time_env, state.due_at - 2 * DAY)  # past the first reminder's instant
    result = await handle.result()

    assert (result.status, result.reminders_sent) == (InvoiceStatus.paid, 0)
    found = await rows(db, data.workflow_id)
    assert found.email_kinds == [(EmailKind.invoice_issued, None), (EmailKind.receipt, None)]
    assert len(found.payments) == 1


async def test_staff_mark_paid_is_recorded_at_once_and_a_repeated_request_records_nothing_new(
    time_env: WorkflowEnvironment, db: Database, task_queue: str
) -> None:
    data = booking(-3, 0, 3)
    handle = await start(time_env.client, data, task_queue)
    state = await issued(handle)
    action = MarkPaid(method="cash", actor="test")

    answer = await staff_actions.mark_paid(db, number=state.number, action=action)
    again = await staff_actions.mark_paid(db, number=state.number, action=action)  # a retried request

    assert (answer.status, answer.balance_minor) == (InvoiceStatus.paid, 0)
    assert again.status is InvoiceStatus.paid
    result = await handle.result()
    assert result.status is InvoiceStatus.paid
    found = await rows(db, data.workflow_id)
    assert [(p.provider, p.provider_reference, p.method) for p in found.payments] == [
        ("manual", action.action_id, "cash")
    ]
    assert found.email_kinds == [(EmailKind.invoice_issued, None), (EmailKind.receipt, None)]
    with pytest.raises(staff_actions.ActionRejected):  # a new action on the paid invoice is refused
        await staff_actions.mark_paid(db, number=state.number, action=MarkPaid(actor="test"))
