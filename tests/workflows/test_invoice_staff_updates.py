"""Staff actions as Workflow Updates (issue 12, item 3), on the dev server (the time-skipping server has none):
the validator refuses with the reason before anything is written to history, an accepted action answers with the
state after it, a repeated action id is applied once, and updates racing a continue-as-new are all answered."""

from __future__ import annotations

import asyncio
import os
from datetime import timedelta
from pathlib import Path

import pytest
from temporalio.client import WorkflowHandle
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Replayer

from billflow.config import Settings
from billflow.db import Database
from billflow.services import invoice_runs, staff_actions
from models.enums import EmailKind, InvoiceStatus
from models.workflow_io import (
    ExtendDueDate,
    InvoiceWorkflowInput,
    PauseReminders,
    ResendEmail,
    ResumeReminders,
    VoidInvoice,
    WriteOff,
)
from tests.conftest import TEST_CONVERTER
from tests.workflows.support import booking, issued, payment, rows
from worker import build_worker
from workflows.invoice import InvoiceWorkflow

pytestmark = pytest.mark.devserver


async def update_events(handle: WorkflowHandle) -> int:
    """How many update events (accepted or completed) the run's history holds."""
    history = await handle.fetch_history()
    return sum(
        1
        for e in history.events
        if e.HasField("workflow_execution_update_accepted_event_attributes")
        or e.HasField("workflow_execution_update_completed_event_attributes")
    )


async def test_pause_and_resume_answer_with_the_state_after_them(
    dev_env: WorkflowEnvironment, db: Database, settings: Settings, task_queue: str
) -> None:
    data = booking()
    async with build_worker(dev_env.client, db, settings, task_queue=task_queue):
        handle = await invoice_runs.start_invoice(dev_env.client, data, task_queue=task_queue)
        await issued(handle)
        paused = await invoice_runs.execute_action(dev_env.client, data.workflow_id, PauseReminders(note="on hold"))
        assert paused.paused and paused.paused_until is None
        resumed = await invoice_runs.execute_action(dev_env.client, data.workflow_id, ResumeReminders())
        assert not resumed.paused
        found = await rows(db, data.workflow_id)
    assert found.count_events("invoice.paused") == 1 and found.count_events("invoice.resumed") == 1


async def test_a_refused_action_says_why_and_writes_nothing(
    dev_env: WorkflowEnvironment, db: Database, settings: Settings, task_queue: str
) -> None:
    data = booking()
    async with build_worker(dev_env.client, db, settings, task_queue=task_queue):
        handle = await invoice_runs.start_invoice(dev_env.client, data, task_queue=task_queue)
        state = await issued(handle)
        with pytest.raises(invoice_runs.ActionRefused, match="reminders are not paused"):
            await invoice_runs.execute_action(dev_env.client, data.workflow_id, ResumeReminders())
        earlier = state.due_date - timedelta(days=1)
        with pytest.raises(invoice_runs.ActionRefused, match="is not after the current one"):
            await invoice_runs.execute_action(dev_env.client, data.workflow_id, ExtendDueDate(due_date=earlier))
        assert await update_events(handle) == 0  # refused by the validator: not in history
        found = await rows(db, data.workflow_id)
    assert found.count_events("invoice.rejected") == 0


async def test_the_same_action_id_is_applied_once(
    dev_env: WorkflowEnvironment, db: Database, settings: Settings, task_queue: str
) -> None:
    data = booking()
    async with build_worker(dev_env.client, db, settings, task_queue=task_queue):
        handle = await invoice_runs.start_invoice(dev_env.client, data, task_queue=task_queue)
        state = await issued(handle)
        action = ExtendDueDate(extend_by=timedelta(days=7))
        first = await invoice_runs.execute_action(dev_env.client, data.workflow_id, action)
        again = await invoice_runs.execute_action(dev_env.client, data.workflow_id, action)
        found = await rows(db, data.workflow_id)
    assert first.due_date == again.due_date == state.due_date + timedelta(days=7)
    assert found.count_events("invoice.due_date_extended") == 1


async def test_void_ends_the_run_and_a_later_action_is_refused(
    dev_env: WorkflowEnvironment, db: Database, settings: Settings, task_queue: str
) -> None:
    data = booking()
    async with build_worker(dev_env.client, db, settings, task_queue=task_queue):
        handle = await invoice_runs.start_invoice(dev_env.client, data, task_queue=task_queue)
        state = await issued(handle)
        voided = await invoice_runs.execute_action(dev_env.client, data.workflow_id, VoidInvoice(reason="cancelled"))
        assert voided.status is InvoiceStatus.void
        assert (await handle.result()).status is InvoiceStatus.void
        with pytest.raises(staff_actions.ActionRejected, match="is void"):
            await staff_actions.perform_action(db, dev_env.client, number=state.number, action=WriteOff(reason="x"))


async def test_write_off_through_the_service_returns_the_state(
    dev_env: WorkflowEnvironment, db: Database, settings: Settings, task_queue: str
) -> None:
    data = booking()
    async with build_worker(dev_env.client, db, settings, task_queue=task_queue):
        handle = await invoice_runs.start_invoice(dev_env.client, data, task_queue=task_queue)
        state = await issued(handle)
        with pytest.raises(staff_actions.ActionRejected, match="reminders are not paused"):
            await staff_actions.perform_action(db, dev_env.client, number=state.number, action=ResumeReminders())
        done = await staff_actions.perform_action(
            db, dev_env.client, number=state.number, action=WriteOff(reason="insolvent")
        )
        assert done.status is InvoiceStatus.uncollectible
        await handle.result()


async def test_updates_racing_continue_as_new_are_all_answered(
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
        for n in range(12):
            paused = await invoice_runs.execute_action(
                dev_env.client, data.workflow_id, PauseReminders(action_id=f"pause-{n}")
            )
            assert paused.paused
            resumed = await invoice_runs.execute_action(
                dev_env.client, data.workflow_id, ResumeReminders(action_id=f"resume-{n}")
            )
            assert not resumed.paused
        await handle.signal(InvoiceWorkflow.payment_received, payment())
        outcome = await handle.result()
    assert outcome.status is InvoiceStatus.paid
    assert (await dev_env.client.get_workflow_handle(data.workflow_id).describe()).run_id != first_run
    found = await rows(db, data.workflow_id)
    assert found.count_events("invoice.paused") == 12 and found.count_events("invoice.resumed") == 12


async def test_resend_goes_through_the_run_and_a_repeated_request_sends_nothing_more(
    dev_env: WorkflowEnvironment, db: Database, settings: Settings, task_queue: str
) -> None:
    data = booking()
    async with build_worker(dev_env.client, db, settings, task_queue=task_queue):
        handle = await invoice_runs.start_invoice(dev_env.client, data, task_queue=task_queue)
        state = await issued(handle)
        ask = {"number": state.number, "kind": EmailKind.invoice_issued, "temporal": dev_env.client}
        first = await staff_actions.resend_email(db, settings, **ask, request_id="req-1")  # type: ignore[arg-type]
        again = await staff_actions.resend_email(db, settings, **ask, request_id="req-1")  # type: ignore[arg-type]
        with pytest.raises(invoice_runs.ActionRefused, match="no receipt to resend"):
            await invoice_runs.resend_email(
                dev_env.client, data.workflow_id, ResendEmail(kind=EmailKind.receipt, action_id="req-2")
            )
        history = await handle.fetch_history()
        found = await rows(db, data.workflow_id)
    assert (first.already_sent, again.already_sent, first.message_id) == (False, True, again.message_id)
    assert found.email_kinds.count((EmailKind.invoice_issued, None)) == 2  # the original and one resend
    assert found.count_events("email.resent") == 1
    accepted = [
        e.workflow_execution_update_accepted_event_attributes.accepted_request.input.name
        for e in history.events
        if e.HasField("workflow_execution_update_accepted_event_attributes")
    ]
    assert accepted == ["apply_resend_email", "apply_resend_email"]  # both requests reached the run; one email


async def test_a_settled_invoice_receipt_is_resent_without_its_ended_run(
    dev_env: WorkflowEnvironment, db: Database, settings: Settings, task_queue: str
) -> None:
    data = booking()
    async with build_worker(dev_env.client, db, settings, task_queue=task_queue):
        handle = await invoice_runs.start_invoice(dev_env.client, data, task_queue=task_queue)
        state = await issued(handle)
        await handle.signal(InvoiceWorkflow.payment_received, payment())
        await handle.result()
        resent = await staff_actions.resend_email(
            db, settings, number=state.number, kind=EmailKind.receipt, request_id="r-1", temporal=dev_env.client
        )
        found = await rows(db, data.workflow_id)
    assert not resent.already_sent
    assert found.email_kinds.count((EmailKind.receipt, None)) == 2


async def test_a_run_driven_by_updates_replays_without_nondeterminism(
    dev_env: WorkflowEnvironment, db: Database, settings: Settings, task_queue: str
) -> None:
    data = booking()
    async with build_worker(dev_env.client, db, settings, task_queue=task_queue):
        handle = await invoice_runs.start_invoice(dev_env.client, data, task_queue=task_queue)
        state = await issued(handle)
        run = dev_env.client.get_workflow_handle(data.workflow_id)
        await invoice_runs.execute_action(dev_env.client, data.workflow_id, PauseReminders(action_id="p"))
        with pytest.raises(invoice_runs.ActionRefused):  # refused: not in the history
            await invoice_runs.execute_action(dev_env.client, data.workflow_id, PauseReminders(action_id="p2"))
        await invoice_runs.execute_action(dev_env.client, data.workflow_id, ResumeReminders(action_id="r"))
        await staff_actions.resend_email(
            db, settings, number=state.number, kind=EmailKind.invoice_issued, request_id="e", temporal=dev_env.client
        )
        await invoice_runs.execute_action(dev_env.client, data.workflow_id, ExtendDueDate(extend_by=timedelta(days=3)))
        await invoice_runs.execute_action(dev_env.client, data.workflow_id, VoidInvoice(reason="cancelled"))
        await handle.result()
        history = await run.fetch_history()
    if target := os.environ.get("RECORD_UPDATES_HISTORY"):  # re-records tests/replay/histories/updates/
        await asyncio.to_thread(Path(target).write_text, history.to_json())
    replayer = Replayer(workflows=[InvoiceWorkflow], data_converter=TEST_CONVERTER)
    assert (await replayer.replay_workflow(history)).replay_failure is None
    assert await update_events(run) == 10  # five updates, each accepted and completed
