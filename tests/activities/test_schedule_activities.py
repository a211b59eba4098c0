"""The calendar activities return instants computed in the client's time zone, recorded by the workflow."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from temporalio.testing import ActivityEnvironment

from activities import schedule as schedule_activities
from models.workflow_io import DueDateInput, ExtendDueDate, PlanRemindersInput, ReminderPolicy, ReminderStep

POLICY = ReminderPolicy(send_hour=9, steps=[ReminderStep(offset=timedelta(days=d)) for d in (-3, 0)])


async def test_plan_reminders_activity_returns_local_nine_oclock_instants() -> None:
    plan = await ActivityEnvironment().run(
        schedule_activities.plan_reminders,
        PlanRemindersInput(
            policy=POLICY,
            timezone="America/New_York",
            issued_at=datetime(2026, 2, 1, tzinfo=UTC),
            due_date=date(2026, 3, 8),
            due_at=datetime(2026, 3, 9, 4, tzinfo=UTC),
        ),
    )
    # 09:00 EST before the change on 8 March, 09:00 EDT on the day
    assert [r.at for r in plan.reminders] == [
        datetime(2026, 3, 5, 14, tzinfo=UTC),
        datetime(2026, 3, 8, 13, tzinfo=UTC),
    ]


async def test_compute_extended_due_activity_moves_to_the_end_of_the_new_local_day() -> None:
    due = await ActivityEnvironment().run(
        schedule_activities.compute_extended_due,
        DueDateInput(
            policy=POLICY,
            timezone="Europe/Berlin",
            due_date=date(2026, 3, 20),
            due_at=datetime(2026, 3, 20, 23, tzinfo=UTC),
            change=ExtendDueDate(extend_by=timedelta(days=10)),
        ),
    )
    assert (due.due_date, due.due_at) == (date(2026, 3, 30), datetime(2026, 3, 30, 22, tzinfo=UTC))
