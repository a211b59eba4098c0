"""Money taken back after the invoice's run closed gives it its collection back (issue 11, item 13).

A Stripe refund lowers the price with its credit note (issue 14), so the invoice stays settled and nothing
reopens. Money reversed without a credit note (a chargeback, a refund made in error) leaves it owed again: the
whole path on the time-skipping server: paid in full (the run completes "paid"), then the reversal is recorded
and the invoice reopens in PostgreSQL; a new run under the same workflow id carries the balance with true search
attributes, sends no second invoice, pay link or issue email, and sends the reminders its policy has left.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

import pytest
from temporalio.client import WorkflowExecutionStatus
from temporalio.testing import WorkflowEnvironment

from billflow.db import Database
from billflow.payments.stripe_events import receive_stripe_event
from billflow.services import invoicing
from billflow.services.invoice_reopen import reopen_if_unsettled
from models.enums import EmailKind, InvoiceStatus, PaymentKind
from models.workflow_io import PaymentReceived
from tests.workflows.support import BOOKING_TOTAL, DAY, booking, issued, payment, rows, skip_to, start, until
from workflows.invoice import InvoiceWorkflow
from workflows.search_attributes import AMOUNT_DUE_MINOR, CLIENT_ID, INVOICE_NUMBER, INVOICE_STATUS

pytestmark = pytest.mark.usefixtures("worker")

REFUND = 10_000


def charge_refunded(invoice_id: int, *, amount_refunded: int, at: datetime) -> dict[str, object]:
    return {
        "id": f"evt_{uuid.uuid4().hex[:12]}",
        "type": "charge.refunded",
        "created": int(at.timestamp()),
        "data": {
            "object": {
                "id": f"ch_{invoice_id}",
                "amount_refunded": amount_refunded,
                "currency": "gbp",
                "metadata": {"billflow_invoice_id": str(invoice_id)},
            }
        },
    }


async def test_a_refund_after_the_run_closed_restarts_collection_in_a_new_run(
    time_env: WorkflowEnvironment, db: Database, task_queue: str
) -> None:
    data = booking(-3, 0, 3, 7)
    handle = await start(time_env.client, data, task_queue)
    first = await issued(handle)
    await skip_to(time_env, first.due_at - 5 * DAY)  # before any reminder
    await handle.signal(InvoiceWorkflow.payment_received, payment())
    assert (await handle.result()).status is InvoiceStatus.paid
    closed_run = (await handle.describe()).run_id

    # Refunded 4 days after the due date: steps 1-3 (-3, 0, +3 days) fell due while it was paid, step 4 is ahead.
    await skip_to(time_env, first.due_at + 4 * DAY)
    now = await time_env.get_current_time()
    reversal = PaymentReceived(
        provider="stripe",
        provider_reference=f"dp_{uuid.uuid4().hex[:10]}",
        amount_minor=REFUND,
        currency=first.currency,
        received_at=now,
        method="card",
    )
    async with db.session() as session:
        await invoicing.record_payment(
            session, invoice_id=first.invoice_id, payment=reversal, kind=PaymentKind.refund, note="chargeback"
        )
    await reopen_if_unsettled(db, time_env.client, invoice_id=first.invoice_id)

    reopened = time_env.client.get_workflow_handle_for(InvoiceWorkflow.run, data.workflow_id)
    # The latest missed step goes out once, now; the earlier two are skipped; step 4 follows on schedule.
    state = await until(reopened, lambda s: s.status is InvoiceStatus.overdue and s.reminders[2].sent)
    assert [(r.step, r.sent, r.skipped) for r in state.reminders[:3]] == [
        (1, False, True),
        (2, False, True),
        (3, True, False),
    ]
    assert state.balance_minor == REFUND
    assert state.payment_url == first.payment_url

    described = await reopened.describe()
    assert described.run_id != closed_run
    assert described.status is WorkflowExecutionStatus.RUNNING
    attributes = described.typed_search_attributes
    assert attributes.get(INVOICE_STATUS) == "overdue"  # past its due date and owed again
    assert attributes.get(AMOUNT_DUE_MINOR) == REFUND
    assert attributes.get(INVOICE_NUMBER) == first.number
    assert attributes.get(CLIENT_ID) == str((await rows(db, data.workflow_id)).invoice.client_id)

    await skip_to(time_env, first.due_at + 7 * DAY + timedelta(minutes=1))
    await until(reopened, lambda s: s.reminders[3].sent and s.escalated)

    found = await rows(db, data.workflow_id)
    kinds = found.email_kinds
    assert kinds.count((EmailKind.invoice_issued, None)) == 1  # no duplicate issue email
    assert [step for kind, step in kinds if step is not None] == [3, 4]
    assert found.count_events("invoice.issued") == 1  # no second invoice
    assert found.invoice.payment_url == first.payment_url  # no second pay link
    assert found.invoice.amount_paid_minor == BOOKING_TOTAL - REFUND

    # Paid again: the reopened run settles and closes, with true attributes.
    await reopened.signal(InvoiceWorkflow.payment_received, payment(REFUND))
    assert (await reopened.result()).status is InvoiceStatus.paid
    settled = (await reopened.describe()).typed_search_attributes
    assert (settled.get(INVOICE_STATUS), settled.get(AMOUNT_DUE_MINOR)) == ("paid", 0)
    # Settled twice, receipted twice: the reopened run's receipt has a key of its own.
    assert (await rows(db, data.workflow_id)).email_kinds.count((EmailKind.receipt, None)) == 2


async def test_a_refund_while_the_run_is_open_starts_no_second_run(
    time_env: WorkflowEnvironment, db: Database, task_queue: str
) -> None:
    data = booking(-3, 0, 3, 7)
    handle = await start(time_env.client, data, task_queue)
    first = await issued(handle)
    await handle.signal(InvoiceWorkflow.payment_received, payment(20_000))
    await until(handle, lambda s: s.amount_paid_minor == 20_000)
    run_id = (await handle.describe()).run_id

    now = await time_env.get_current_time()
    await receive_stripe_event(db, time_env.client, charge_refunded(first.invoice_id, amount_refunded=5_000, at=now))

    state = await until(handle, lambda s: s.amount_paid_minor == 15_000)
    assert state.status is InvoiceStatus.partially_paid
    assert (await handle.describe()).run_id == run_id
