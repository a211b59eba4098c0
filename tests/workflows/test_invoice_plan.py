"""The plan ahead and the Temporal UI's details as pure functions of the invoice state: holds and pauses mark
the steps they skip, and say why."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from models.enums import InvoiceStatus
from models.workflow_io import CollectionHold, HoldKind, InvoiceState, ScheduledReminder
from workflows.invoice_plan import plan_ahead
from workflows.run_details import next_event

NOW = datetime(2026, 12, 1, 12, tzinfo=UTC)
DUE = NOW + timedelta(days=10)


def state(**changes: object) -> InvoiceState:
    base = InvoiceState(
        invoice_id=1,
        number="INV-2026-000001",
        status=InvoiceStatus.open,
        currency="EUR",
        total_minor=10_000,
        amount_paid_minor=0,
        issued_at=NOW - timedelta(days=4),
        due_date=date(2026, 12, 11),
        due_at=DUE,
        timezone="Europe/Berlin",
        reminders=[
            ScheduledReminder(step=1, template="reminder", at=DUE - timedelta(days=3), local_label="2026-12-08 09:00"),
            ScheduledReminder(step=2, template="overdue", at=DUE + timedelta(days=3)),
        ],
    )
    return base.model_copy(update=changes)


def test_plan_lists_reminders_overdue_and_escalation_in_time_order() -> None:
    plan = plan_ahead(state(), now=NOW)
    assert [(e.kind, e.skipped) for e in plan.entries] == [
        ("reminder", False),
        ("overdue", False),
        ("reminder", False),
        ("escalation", False),
    ]
    assert plan.next_reminder is not None and plan.next_reminder.local_label == "2026-12-08 09:00"


def test_a_promise_skips_the_steps_before_it_ends_and_says_when_it_ends() -> None:
    hold = CollectionHold(
        kind=HoldKind.promise, reference="answer:x", since=NOW, until=DUE + timedelta(days=1), label="promised"
    )
    plan = plan_ahead(state(hold=hold), now=NOW)
    steps = [e for e in plan.entries if e.kind == "reminder"]
    assert [e.skipped for e in steps] == [True, False]
    assert "promised to pay" in steps[0].note
    assert "promise_ends" in [e.kind for e in plan.entries]
    assert plan.next_reminder is not None and plan.next_reminder.step == 2


def test_a_dispute_skips_everything_and_the_details_say_so() -> None:
    hold = CollectionHold(kind=HoldKind.dispute, reference="answer:y", since=NOW, label="disputed by the client")
    held = state(status=InvoiceStatus.disputed, hold=hold)
    plan = plan_ahead(held, now=NOW)
    assert all(e.skipped for e in plan.entries if e.kind == "reminder")
    assert plan.next_reminder is None
    assert next_event(held) == "dispute: disputed by the client; reminders wait"


def test_a_final_invoice_has_no_plan() -> None:
    assert plan_ahead(state(status=InvoiceStatus.paid), now=NOW).entries == []
