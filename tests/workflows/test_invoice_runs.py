"""One run per booking, and continue-as-new carrying the whole state into the next run."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import func
from sqlmodel import col, select
from temporalio.client import WorkflowExecutionStatus
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.testing import WorkflowEnvironment

from billflow.db import Database
from billflow.services.invoice_runs import start_invoice
from models.enums import EmailKind, InvoiceStatus
from models.invoices import Invoice
from models.workflow_io import InvoiceWorkflowInput, PauseReminders, ResumeReminders
from tests.workflows.support import DAY, booking, issued, payment, rows, skip_to, until, until_rows
from workflows.invoice import InvoiceWorkflow


async def invoices_for(db: Database, source_key: str) -> int:
    async with db.session() as session:
        query = select(func.count()).select_from(Invoice).where(col(Invoice.source_key) == source_key)
        return (await session.exec(query)).one()


@pytest.mark.usefixtures("worker")
async def test_second_start_for_the_same_booking_joins_the_running_invoice(
    time_env: WorkflowEnvironment, db: Database, task_queue: str
) -> None:
    data = booking()
    first = await start_invoice(time_env.client, data, task_queue=task_queue)
    await issued(first)
    second = await start_invoice(time_env.client, data, task_queue=task_queue)

    assert second.id == first.id and second.result_run_id == first.result_run_id
    assert await invoices_for(db, data.source_key) == 1

    await second.signal(InvoiceWorkflow.payment_received, payment())
    await first.result()
    # After the run finished, a third start must still not issue another invoice.
    try:
        third = await start_invoice(time_env.client, data, task_queue=task_queue)
    except WorkflowAlreadyStartedError:
        pass
    else:
        assert (await third.describe()).status is WorkflowExecutionStatus.COMPLETED
    assert await invoices_for(db, data.source_key) == 1
    assert (await rows(db, data.workflow_id)).email_kinds.count((EmailKind.invoice_issued, None)) == 1


async def test_continue_as_new_carries_the_state(own_env: WorkflowEnvironment, db: Database, task_queue: str) -> None:
    # Its own server: the time-skipping server can stall when a continue-as-new races in-flight signals.
    time_env = own_env
    data = booking(-3, 3)
    handle = await time_env.client.start_workflow(
        InvoiceWorkflow.run,
        InvoiceWorkflowInput(booking=data, max_history_events=40),
        id=data.workflow_id,
        task_queue=task_queue,
    )
    first_run = handle.result_run_id
    state = await issued(handle)
    await skip_to(time_env, state.due_at - DAY)
    await until(handle, lambda s: s.steps_sent == 1)
    await handle.signal(InvoiceWorkflow.payment_received, payment(5_000))

    # Each applied action writes history: enough to pass 40 events several times. Progress is read from the
    # database, not queried: the time-skipping server can stall on a query racing a continue-as-new.
    for n in range(12):
        await handle.signal(InvoiceWorkflow.pause_reminders, PauseReminders(action_id=f"pause-{n}"))
        await handle.signal(InvoiceWorkflow.resume_reminders, ResumeReminders(action_id=f"resume-{n}"))
    await until_rows(db, data.workflow_id, lambda r: r.count_events("invoice.resumed") == 12)
    await asyncio.sleep(0.3)  # let the last run settle before querying it
    state = await until(handle, lambda s: "resume-11" in s.processed_action_ids)

    latest = await time_env.client.get_workflow_handle(data.workflow_id).describe()
    assert latest.run_id != first_run
    assert (await time_env.client.get_workflow_handle(data.workflow_id, run_id=first_run).describe()).status is (
        WorkflowExecutionStatus.CONTINUED_AS_NEW
    )
    assert state.amount_paid_minor == 5_000 and state.status is InvoiceStatus.partially_paid
    assert [r.sent for r in state.reminders] == [True, False]
    assert {f"pause-{n}" for n in range(12)} <= set(state.processed_action_ids)
    assert not state.paused

    # A repeated action id from an earlier run is still recognised.
    await handle.signal(InvoiceWorkflow.pause_reminders, PauseReminders(action_id="pause-0"))
    await handle.signal(InvoiceWorkflow.resume_reminders, ResumeReminders(action_id="after-repeat"))
    # pause-0 is ignored, so resuming is rejected (reminders are not paused)
    await until_rows(db, data.workflow_id, lambda r: r.count_events("invoice.rejected") == 1)
    await asyncio.sleep(0.3)
    await skip_to(time_env, state.due_at + 4 * DAY)
    state = await until(handle, lambda s: s.escalated)
    await handle.signal(InvoiceWorkflow.payment_received, payment(state.balance_minor))
    outcome = await handle.result()  # follows the chain of continued runs

    assert (outcome.status, outcome.reminders_sent) == (InvoiceStatus.paid, 2)
    found = await rows(db, data.workflow_id)
    assert found.email_kinds == [
        (EmailKind.invoice_issued, None),
        (EmailKind.reminder, 1),
        (EmailKind.overdue, 2),
        (EmailKind.escalation, None),
        (EmailKind.receipt, None),
    ]
    assert found.count_events("invoice.paused") == 12  # pause-0 repeated: applied once
    assert await invoices_for(db, data.source_key) == 1
