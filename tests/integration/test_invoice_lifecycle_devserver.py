"""The whole lifecycle on the real Temporal dev server, with the real worker, PostgreSQL and local backends."""

from __future__ import annotations

import asyncio

import pytest
from temporalio.testing import WorkflowEnvironment

from billflow.config import Settings
from billflow.db import Database
from billflow.services.invoice_runs import send_payment, start_invoice
from models.enums import EmailKind, InvoiceStatus, MessageStatus
from tests.workflows.support import BOOKING_TOTAL, booking, issued, payment, rows
from worker import build_worker

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
