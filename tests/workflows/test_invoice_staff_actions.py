"""Staff signals on a live invoice run: pause, resume, extend, void, write off, and actions that do not apply."""

from __future__ import annotations

from datetime import timedelta

import pytest
from temporalio.testing import WorkflowEnvironment

from billflow.db import Database
from models.enums import EmailKind, InvoiceStatus
from models.workflow_io import (
    ExtendDueDate,
    MarkPaid,
    PauseReminders,
    ResumeReminders,
    VoidInvoice,
    WriteOff,
)
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


def reminder_steps(kinds: list[tuple[str, int | None]]) -> list[int]:
    return [step for _, step in kinds if step is not None]


async def test_pause_skips_steps_falling_due_and_resume_continues_with_the_rest(
    time_env: WorkflowEnvironment, db: Database, task_queue: str
) -> None:
    data = booking(-3, 0, 3)
    handle = await start(time_env.client, data, task_queue)
    state = await issued(handle)

    await handle.signal(InvoiceWorkflow.pause_reminders, PauseReminders(action_id="pause-1"))
    await until(handle, lambda s: s.paused)
    assert (await rows(db, data.workflow_id)).invoice.reminders_paused

    await skip_to(time_env, state.due_at - DAY)  # step 1 (-3d) falls due while paused
    state = await until(handle, lambda s: s.reminders[0].skipped)
    assert state.steps_sent == 0

    await handle.signal(InvoiceWorkflow.resume_reminders, ResumeReminders(action_id="resume-1"))
    await until(handle, lambda s: not s.paused)
    await skip_to(time_env, state.due_at + DAY)  # step 2 (on the day) goes out as usual
    state = await until(handle, lambda s: s.steps_sent == 1)
    assert [r.step for r in state.reminders if r.sent] == [2]

    found = await rows(db, data.workflow_id)
    assert not found.invoice.reminders_paused
    assert reminder_steps(found.email_kinds) == [2]
    assert found.count_events("invoice.paused") == found.count_events("invoice.resumed") == 1

    await handle.signal(InvoiceWorkflow.payment_received, payment())
    assert (await handle.result()).status is InvoiceStatus.paid


async def test_pause_until_a_date_resumes_by_itself(
    time_env: WorkflowEnvironment, db: Database, task_queue: str
) -> None:
    data = booking(-5, -1)
    handle = await start(time_env.client, data, task_queue)
    state = await issued(handle)

    pause_end = state.due_at - 3 * DAY  # after step 1 (-5d), before step 2 (-1d)
    await handle.signal(InvoiceWorkflow.pause_reminders, PauseReminders(until=pause_end))
    await until(handle, lambda s: s.paused and s.paused_until == pause_end)
    assert (await rows(db, data.workflow_id)).invoice.paused_until == pause_end

    await skip_to(time_env, pause_end + timedelta(hours=1))
    state = await until(handle, lambda s: not s.paused)
    assert state.paused_until is None
    assert [(r.skipped, r.sent) for r in state.reminders] == [(True, False), (False, False)]
    found = await rows(db, data.workflow_id)
    assert (found.invoice.reminders_paused, found.invoice.paused_until) == (False, None)
    assert found.count_events("invoice.resumed") == 1

    await skip_to(time_env, state.due_at - DAY / 2)
    await until(handle, lambda s: s.steps_sent == 1)
    assert reminder_steps((await rows(db, data.workflow_id)).email_kinds) == [2]

    await handle.signal(InvoiceWorkflow.payment_received, payment())
    await handle.result()


async def test_extend_due_date_reschedules_remaining_steps_and_overdue_reverts_to_open(
    time_env: WorkflowEnvironment, db: Database, task_queue: str
) -> None:
    data = booking(-3, 0, 3, 7)
    handle = await start(time_env.client, data, task_queue)
    state = await issued(handle)
    old_due = state.due_at

    await skip_to(time_env, old_due + DAY)
    state = await until(handle, lambda s: s.status is InvoiceStatus.overdue and s.steps_sent == 2)
    sent_before = [r for r in state.reminders if r.sent]

    await handle.signal(InvoiceWorkflow.extend_due_date, ExtendDueDate(extend_by=timedelta(days=14)))
    state = await until(handle, lambda s: s.due_at == old_due + 14 * DAY)
    assert state.status is InvoiceStatus.open
    assert await search_status(handle) == "open"
    assert [r for r in state.reminders if r.sent] == sent_before  # sent steps keep their record
    assert [r.at for r in state.reminders[2:]] == [state.due_at + 3 * DAY, state.due_at + 7 * DAY]
    found = await rows(db, data.workflow_id)
    assert (found.invoice.status, found.invoice.due_at, found.invoice.overdue_at) == (
        InvoiceStatus.open,
        state.due_at,
        None,
    )
    assert found.count_events("invoice.due_date_extended") == 1

    # The new due date passes too: overdue again, and the remaining steps go out once each.
    await skip_to(time_env, state.due_at + 8 * DAY)
    state = await until(handle, lambda s: s.escalated)
    assert state.status is InvoiceStatus.overdue
    found = await rows(db, data.workflow_id)
    assert found.invoice.status == InvoiceStatus.overdue
    assert reminder_steps(found.email_kinds) == [1, 2, 3, 4]
    assert found.count_events("invoice.overdue") == 2

    await handle.signal(InvoiceWorkflow.payment_received, payment())
    assert (await handle.result()).status is InvoiceStatus.paid


async def test_void_ends_the_run(time_env: WorkflowEnvironment, db: Database, task_queue: str) -> None:
    data = booking()
    handle = await start(time_env.client, data, task_queue)
    await issued(handle)

    await handle.signal(InvoiceWorkflow.void, VoidInvoice(reason="booking cancelled"))
    outcome = await handle.result()

    assert outcome.status is InvoiceStatus.void
    found = await rows(db, data.workflow_id)
    assert found.invoice.status == InvoiceStatus.void and found.invoice.voided_at is not None
    assert found.count_events("invoice.void") == 1
    # Issue 14: the void issued a cancellation credit note, emailed to the client (tests/documents).
    assert found.email_kinds == [(EmailKind.invoice_issued, None), (EmailKind.credit_note, None)]
    assert found.count_events("credit_note.issued") == 1
    assert await search_status(handle) == "void"


async def test_void_is_rejected_when_payments_exist(
    time_env: WorkflowEnvironment, db: Database, task_queue: str
) -> None:
    data = booking()
    handle = await start(time_env.client, data, task_queue)
    await issued(handle)
    await handle.signal(InvoiceWorkflow.payment_received, payment(5_000))

    await handle.signal(InvoiceWorkflow.void, VoidInvoice(action_id="void-1", reason="changed my mind"))
    state = await until(handle, lambda s: "void-1" in s.processed_action_ids)
    assert state.status is InvoiceStatus.partially_paid
    assert "payments" in (state.last_rejection or "")
    found = await rows(db, data.workflow_id)
    assert (found.invoice.status, found.invoice.voided_at) == (InvoiceStatus.partially_paid, None)
    assert found.count_events("invoice.rejected") == 1 and found.count_events("invoice.void") == 0

    await handle.signal(InvoiceWorkflow.payment_received, payment(BOOKING_TOTAL - 5_000))
    await handle.result()


async def test_write_off_marks_uncollectible_and_ends_the_run(
    time_env: WorkflowEnvironment, db: Database, task_queue: str
) -> None:
    data = booking(0)
    handle = await start(time_env.client, data, task_queue)
    state = await issued(handle)
    await skip_to(time_env, state.due_at + DAY)
    await until(handle, lambda s: s.escalated)

    await handle.signal(InvoiceWorkflow.write_off, WriteOff(reason="client unreachable"))
    outcome = await handle.result()

    assert outcome.status is InvoiceStatus.uncollectible
    found = await rows(db, data.workflow_id)
    assert found.invoice.status == InvoiceStatus.uncollectible and found.invoice.written_off_at is not None
    assert found.count_events("invoice.write_off") == 1
    assert await search_status(handle) == "uncollectible"


async def test_payment_queued_behind_a_write_off_is_recorded_and_receipted(
    time_env: WorkflowEnvironment, db: Database, task_queue: str
) -> None:
    data = booking()
    handle = await start(time_env.client, data, task_queue)
    await issued(handle)

    await handle.signal(InvoiceWorkflow.write_off, WriteOff(reason="client unreachable"))
    await handle.signal(InvoiceWorkflow.payment_received, payment(reference="pi_after_write_off"))
    outcome = await handle.result()

    assert (outcome.status, outcome.amount_paid_minor) == (InvoiceStatus.paid, BOOKING_TOTAL)
    found = await rows(db, data.workflow_id)
    assert (found.invoice.status, found.invoice.written_off_at is not None) == (InvoiceStatus.paid, True)
    assert [p.provider_reference for p in found.payments] == ["pi_after_write_off"]
    assert found.email_kinds == [(EmailKind.invoice_issued, None), (EmailKind.receipt, None)]
    assert await search_status(handle) == "paid"


async def test_mark_paid_defaults_to_the_balance(time_env: WorkflowEnvironment, db: Database, task_queue: str) -> None:
    data = booking()
    handle = await start(time_env.client, data, task_queue)
    await issued(handle)
    await handle.signal(InvoiceWorkflow.payment_received, payment(8_500))

    await handle.signal(InvoiceWorkflow.mark_paid, MarkPaid(method="cash", note="paid at the desk"))
    outcome = await handle.result()

    assert (outcome.status, outcome.amount_paid_minor) == (InvoiceStatus.paid, BOOKING_TOTAL)
    found = await rows(db, data.workflow_id)
    manual = [p for p in found.payments if p.provider == "manual"]
    assert [(p.amount_minor, p.method, p.note) for p in manual] == [(30_000, "cash", "paid at the desk")]
    assert found.email_kinds.count((EmailKind.receipt, None)) == 1


async def test_duplicate_staff_action_id_is_applied_once(
    time_env: WorkflowEnvironment, db: Database, task_queue: str
) -> None:
    data = booking()
    handle = await start(time_env.client, data, task_queue)
    state = await issued(handle)
    old_due = state.due_at

    extend = ExtendDueDate(action_id="extend-once", extend_by=timedelta(days=7))
    await handle.signal(InvoiceWorkflow.extend_due_date, extend)
    await handle.signal(InvoiceWorkflow.extend_due_date, extend)
    part = MarkPaid(action_id="cash-once", amount_minor=1_000, method="cash")
    await handle.signal(InvoiceWorkflow.mark_paid, part)
    await handle.signal(InvoiceWorkflow.mark_paid, part)
    await handle.signal(InvoiceWorkflow.resume_reminders, ResumeReminders(action_id="marker"))
    state = await until(handle, lambda s: "marker" in s.processed_action_ids)  # applied after both copies

    assert state.due_at == old_due + 7 * DAY
    assert state.amount_paid_minor == 1_000
    found = await rows(db, data.workflow_id)
    assert found.invoice.due_at == old_due + 7 * DAY
    assert found.invoice.amount_paid_minor == 1_000 and len(found.payments) == 1
    assert found.count_events("invoice.due_date_extended") == 1

    await handle.signal(InvoiceWorkflow.payment_received, payment(BOOKING_TOTAL - 1_000))
    await handle.result()


@pytest.mark.parametrize(
    "action",
    [
        ResumeReminders(action_id="not-paused"),
        MarkPaid(action_id="too-much", amount_minor=BOOKING_TOTAL + 1),
        ExtendDueDate(action_id="backwards", extend_by=timedelta(days=-1)),
    ],
    ids=["resume-when-not-paused", "mark-paid-above-balance", "extend-backwards"],
)
async def test_action_that_does_not_apply_is_recorded_as_rejected_and_changes_nothing(
    time_env: WorkflowEnvironment, db: Database, task_queue: str, action: ResumeReminders | MarkPaid | ExtendDueDate
) -> None:
    data = booking()
    handle = await start(time_env.client, data, task_queue)
    before = await issued(handle)
    rows_before = await rows(db, data.workflow_id)

    await handle.signal(_signal_for(action), action)  # type: ignore[call-overload]
    after = await until(handle, lambda s: action.action_id in s.processed_action_ids)

    assert after.last_rejection
    assert after.model_dump(exclude={"processed_action_ids", "last_rejection"}) == before.model_dump(
        exclude={"processed_action_ids", "last_rejection"}
    )
    found = await rows(db, data.workflow_id)
    assert found.invoice.model_dump(exclude={"updated_at"}) == rows_before.invoice.model_dump(exclude={"updated_at"})
    assert found.payments == []
    rejected = [e for e in found.events if e.kind == "invoice.rejected"]
    assert len(rejected) == 1 and type(action).__name__ in rejected[0].message

    await handle.signal(InvoiceWorkflow.payment_received, payment())
    await handle.result()


def _signal_for(action: object) -> object:
    from billflow.services.invoice_runs import SIGNALS

    return SIGNALS[type(action)]  # type: ignore[index]
