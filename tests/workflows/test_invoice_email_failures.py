"""An email the provider refuses for good (bad address, suppressed recipient) must not end the invoice run."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from activities.email import EmailActivities
from billflow.config import Settings
from billflow.db import Database
from billflow.email.base import DeliveryRejected, OutgoingEmail
from models.enums import EmailKind, InvoiceStatus, MessageStatus
from tests.workflows.support import DAY, booking, issued, payment, rows, skip_to, start, until
from worker import SANDBOX, build_activities
from workflows.invoice import InvoiceWorkflow


class RefusesReminders:
    """Accepts every email except reminders, which it refuses permanently (as a provider does a bad address)."""

    name = "refuses-reminders"
    repeat_is_harmless = False

    async def send(self, email: OutgoingEmail) -> str:
        if EmailKind.reminder in email.categories:
            raise DeliveryRejected("550 mailbox unavailable", permanent=True)
        return f"ok-{email.idempotency_key}"


@pytest.fixture
async def refusing_worker(
    time_env: WorkflowEnvironment, db: Database, settings: Settings, task_queue: str
) -> AsyncIterator[Worker]:
    activities = [a for a in build_activities(db, settings) if a.__name__ != "send_invoice_email"]
    activities.append(EmailActivities(db, RefusesReminders(), settings).send_invoice_email)
    async with Worker(
        time_env.client,
        task_queue=task_queue,
        workflows=[InvoiceWorkflow],
        workflow_runner=SANDBOX,
        activities=activities,
    ) as worker:
        yield worker


@pytest.mark.usefixtures("refusing_worker")
async def test_permanently_refused_reminder_is_recorded_and_the_run_goes_on(
    time_env: WorkflowEnvironment, db: Database, task_queue: str
) -> None:
    data = booking(-3, 3)
    handle = await start(time_env.client, data, task_queue)
    state = await issued(handle)

    await skip_to(time_env, state.due_at - DAY)  # step 1 falls due: the provider refuses it
    state = await until(handle, lambda s: s.reminders[0].done)
    found = await rows(db, data.workflow_id)
    refused = [m for m in found.emails if m.kind == EmailKind.reminder]
    assert [(m.reminder_step, m.status) for m in refused] == [(1, MessageStatus.failed)]
    assert found.count_events("invoice.email_failed") == 1

    await handle.signal(InvoiceWorkflow.payment_received, payment())
    outcome = await handle.result()
    assert outcome.status is InvoiceStatus.paid
    assert (await rows(db, data.workflow_id)).email_kinds[-1] == (EmailKind.receipt, None)
