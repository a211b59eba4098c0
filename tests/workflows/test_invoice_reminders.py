"""Reminders, overdue and escalation of unpaid invoices, including the client's local send hour across DST."""

from __future__ import annotations

import asyncio
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from temporalio.testing import WorkflowEnvironment

from billflow.config import Settings
from billflow.db import Database
from models.enums import EmailKind, InvoiceStatus
from models.workflow_io import BookingIn, ReminderPolicy, ReminderStep, VoidInvoice
from tests.factories import make_booking, make_client
from tests.workflows.support import DAY, booking, issued, rows, search_status, skip_to, start, until
from workflows.invoice import InvoiceWorkflow


@pytest.mark.usefixtures("worker")
async def test_never_paid_goes_overdue_sends_every_step_once_and_escalates_once(
    time_env: WorkflowEnvironment, db: Database, settings: Settings, task_queue: str
) -> None:
    data = booking(-3, 0, 3, 7)
    handle = await start(time_env.client, data, task_queue)
    state = await issued(handle)

    await skip_to(time_env, state.due_at + DAY)
    state = await until(handle, lambda s: s.status is InvoiceStatus.overdue and s.steps_sent == 2)
    assert await search_status(handle) == "overdue"
    assert (await rows(db, data.workflow_id)).invoice.status == InvoiceStatus.overdue

    await skip_to(time_env, state.due_at + 30 * DAY)  # long after the last step
    state = await until(handle, lambda s: s.escalated)
    assert state.steps_sent == 4 and state.next_reminder_at is None

    found = await rows(db, data.workflow_id)
    assert found.invoice.status == InvoiceStatus.overdue
    assert found.invoice.overdue_at is not None and found.invoice.escalated_at is not None
    assert found.email_kinds == [
        (EmailKind.invoice_issued, None),
        (EmailKind.reminder, 1),
        (EmailKind.reminder, 2),
        (EmailKind.overdue, 3),
        (EmailKind.overdue, 4),
        (EmailKind.escalation, None),
    ]
    escalation = found.emails[0]  # newest first
    assert (escalation.kind, escalation.to_email) == (EmailKind.escalation, settings.staff_email)
    assert found.count_events("invoice.overdue") == 1
    assert found.count_events("invoice.escalated") == 1
    assert await search_status(handle) == "overdue"

    await handle.signal(InvoiceWorkflow.void, VoidInvoice(reason="end of test"))
    assert (await handle.result()).status is InvoiceStatus.void


@pytest.mark.usefixtures("worker")
async def test_step_before_issue_is_skipped_not_sent(
    time_env: WorkflowEnvironment, db: Database, task_queue: str
) -> None:
    data = booking(-3, 1, terms_days=2)  # "3 days before" would lie before the invoice existed
    handle = await start(time_env.client, data, task_queue)
    state = await issued(handle)
    assert [(r.step, r.skipped) for r in state.reminders] == [(1, True), (2, False)]

    await skip_to(time_env, state.due_at + 2 * DAY)
    await until(handle, lambda s: s.escalated)
    found = await rows(db, data.workflow_id)
    assert [k for k in found.email_kinds if k[1] is not None] == [(EmailKind.overdue, 2)]

    await handle.signal(InvoiceWorkflow.void, VoidInvoice(reason="end of test"))
    await handle.result()


def _next_dst_change(tz: ZoneInfo, after: date) -> date:
    """The first local day after `after` on which the UTC offset changes."""
    day = after
    while (datetime.combine(day + DAY, time(12), tz).utcoffset()) == datetime.combine(day, time(12), tz).utcoffset():
        day += DAY
    return day + DAY


def _calendar_booking(zone: str, due: date, now: datetime) -> BookingIn:
    """A booking issued `now` whose local due date is `due`, with -3d, 0d, +3d reminders at 09:00 local."""
    tz = ZoneInfo(zone)
    policy = ReminderPolicy(send_hour=9, steps=[ReminderStep(offset=timedelta(days=d)) for d in (-3, 0, 3)])
    terms = timedelta(days=(due - now.astimezone(tz).date()).days)
    return make_booking(client=make_client(timezone=zone), reminder_policy=policy, payment_terms=terms)


@pytest.mark.parametrize("zone", ["America/New_York", "Europe/Berlin"])
async def test_reminder_lands_at_nine_local_on_both_sides_of_a_dst_change(
    own_env: WorkflowEnvironment, db: Database, task_queue: str, zone: str
) -> None:
    env = own_env  # its clock starts at the real time, before the zone's next DST change
    tz = ZoneInfo(zone)
    now = await env.get_current_time()
    change_day = _next_dst_change(tz, now.astimezone(tz).date() + 4 * DAY)
    data = _calendar_booking(zone, change_day, now)
    handle = await start(env.client, data, task_queue)
    state = await issued(handle)

    assert state.due_date == change_day
    expected_days = [change_day - 3 * DAY, change_day, change_day + 3 * DAY]
    planned = [r.at.astimezone(tz) for r in state.reminders]
    assert [(p.date(), p.time()) for p in planned] == [(d, time(9)) for d in expected_days]
    # the UTC instant of 09:00 shifts by an hour: one offset before the change, another after it
    assert len({p.utcoffset() for p in planned}) == 2

    for number, reminder in enumerate(state.reminders, start=1):
        await skip_to(env, reminder.at - timedelta(minutes=30))
        await asyncio.sleep(0.2)  # let a wrongly early timer fire and its email go out
        before = await until(handle, lambda s: True)
        assert before.steps_sent == number - 1, f"step {number} sent before 09:00 local"
        await skip_to(env, reminder.at + timedelta(minutes=1))
        await until(handle, lambda s, n=number: s.steps_sent == n)  # type: ignore[misc]

    found = await rows(db, data.workflow_id)
    assert [k[1] for k in found.email_kinds if k[1] is not None] == [1, 2, 3]
    await handle.signal(InvoiceWorkflow.void, VoidInvoice(reason="end of test"))
    await handle.result()
