"""A worker restart between steps: the new worker replays the history and sends nothing twice."""

from __future__ import annotations

from datetime import timedelta

from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from billflow.config import Settings
from billflow.db import Database
from models.enums import EmailKind
from tests.workflows.support import DAY, booking, issued, payment, rows, skip_to, start, until
from worker import SANDBOX, build_activities
from workflows.invoice import InvoiceWorkflow


def uncached_worker(env: WorkflowEnvironment, db: Database, settings: Settings, task_queue: str) -> Worker:
    # No workflow cache, hence no sticky queue: the time-skipping server never moves a task off the sticky queue
    # of a stopped worker, which would stop its clock. Every task replays the history from the start.
    return Worker(
        env.client,
        task_queue=task_queue,
        workflows=[InvoiceWorkflow],
        workflow_runner=SANDBOX,
        activities=build_activities(db, settings),
        max_cached_workflows=0,
    )


async def test_worker_restart_between_steps_sends_nothing_twice(
    time_env: WorkflowEnvironment, db: Database, settings: Settings, task_queue: str
) -> None:
    data = booking(-3, -1, 3)
    async with uncached_worker(time_env, db, settings, task_queue):
        handle = await start(time_env.client, data, task_queue)
        state = await issued(handle)
        await skip_to(time_env, state.reminders[0].at + timedelta(hours=1))
        await until(handle, lambda s: s.steps_sent == 1)

    async with uncached_worker(time_env, db, settings, task_queue):
        await skip_to(time_env, state.due_at - DAY / 2)
        await until(handle, lambda s: s.steps_sent == 2)
        await handle.signal(InvoiceWorkflow.payment_received, payment())
        assert (await handle.result()).reminders_sent == 2

    found = await rows(db, data.workflow_id)
    assert found.email_kinds == [
        (EmailKind.invoice_issued, None),
        (EmailKind.reminder, 1),
        (EmailKind.reminder, 2),
        (EmailKind.receipt, None),
    ]
    assert all(m.attempts == 1 for m in found.emails)
