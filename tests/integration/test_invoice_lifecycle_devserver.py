"""The whole lifecycle on the real Temporal dev server, with the real worker, PostgreSQL and local backends."""

from __future__ import annotations

import asyncio

import pytest
from temporalio.testing import WorkflowEnvironment

from billflow.config import Settings
from billflow.db import Database
from billflow.services.invoice_runs import send_payment, start_invoice
from models.enums import EmailKind, InvoiceStatus, MessageStatus
from models.workflow_io import InvoiceWorkflowInput, PauseReminders, ResumeReminders
from tests.workflows.support import BOOKING_TOTAL, booking, issued, payment, rows, until
from worker import build_worker
from workflows.invoice import InvoiceWorkflow

pytestmark = pytest.mark.devserver


async def visible(env: WorkflowEnvironment, query: str, workflow_id: str, *, timeout: float = 10.0) -> bool:
    """Visibility is eventually consistent: poll the list query briefly."""
    deadline = asyncio.get_running_loop().time() + timeout
    while asyncio.get_running_loop().time() < deadline:
        if workflow_id in [wf.id async for wf in env.client.list_workflows(query)]:
            return True
        await asyncio.sleep(0.1)
    return False


async def test_booking_to_paid_on_the_dev_server(
    dev_env: WorkflowEnvironment, db: Database, settings: Settings, task_queue: str
) -> None:
    data = booking()
    async with build_worker(dev_env.client, db, settings, task_queue=task_queue):
        handle = await start_invoice(dev_env.client, data, task_queue=task_queue)
        state = await issued(handle)
        assert state.status is InvoiceStatus.open
        at_issue = await rows(db, data.workflow_id)
        assert at_issue.email_kinds == [(EmailKind.invoice_issued, None)]
        assert at_issue.emails[0].status == MessageStatus.sent
        assert at_issue.invoice.payment_url == state.payment_url

        await send_payment(dev_env.client, data.workflow_id, payment())
        outcome = await handle.result()

    assert (outcome.status, outcome.amount_paid_minor) == (InvoiceStatus.paid, BOOKING_TOTAL)
    found = await rows(db, data.workflow_id)
    assert (found.invoice.status, found.invoice.amount_paid_minor) == (InvoiceStatus.paid, BOOKING_TOTAL)
    assert found.email_kinds == [(EmailKind.invoice_issued, None), (EmailKind.receipt, None)]
    assert [p.amount_minor for p in found.payments] == [BOOKING_TOTAL]
    assert await visible(dev_env, 'InvoiceStatus = "paid"', data.workflow_id)
    assert await visible(dev_env, f'InvoiceNumber = "{state.number}"', data.workflow_id)


async def test_signals_racing_continue_as_new_are_not_lost_on_the_dev_server(
    dev_env: WorkflowEnvironment, db: Database, settings: Settings, task_queue: str
) -> None:
    data = booking()
    async with build_worker(dev_env.client, db, settings, task_queue=task_queue):
        handle = await dev_env.client.start_workflow(
            InvoiceWorkflow.run,
            InvoiceWorkflowInput(booking=data, max_history_events=40),
            id=data.workflow_id,
            task_queue=task_queue,
        )
        first_run = handle.result_run_id
        await issued(handle)
        # In bursts sent back to back, so some signals arrive while a run is continuing as new.
        for n in range(15):
            await handle.signal(InvoiceWorkflow.pause_reminders, PauseReminders(action_id=f"pause-{n}"))
            await handle.signal(InvoiceWorkflow.resume_reminders, ResumeReminders(action_id=f"resume-{n}"))
            if n % 5 == 4:
                await until(handle, lambda s, last=f"resume-{n}": last in s.processed_action_ids)  # type: ignore[misc]
        await handle.signal(InvoiceWorkflow.payment_received, payment())
        outcome = await handle.result()

    assert outcome.status is InvoiceStatus.paid
    assert (await dev_env.client.get_workflow_handle(data.workflow_id).describe()).run_id != first_run
    found = await rows(db, data.workflow_id)
    assert found.count_events("invoice.paused") == found.count_events("invoice.resumed") == 15
    assert found.email_kinds == [(EmailKind.invoice_issued, None), (EmailKind.receipt, None)]
