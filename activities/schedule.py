"""Calendar computations in the client's time zone, run as local activities so their results sit in history."""

from __future__ import annotations

from temporalio import activity

from billflow import schedule
from models.workflow_io import DueDate, DueDateInput, PlanRemindersInput, ReminderPlan


@activity.defn
async def plan_reminders(data: PlanRemindersInput) -> ReminderPlan:
    return ReminderPlan(
        reminders=schedule.plan_reminders(
            data.policy,
            data.timezone,
            issued_at=data.issued_at,
            due_date=data.due_date,
            due_at=data.due_at,
            already=data.already,
        )
    )


@activity.defn
async def compute_extended_due(data: DueDateInput) -> DueDate:
    due_date, due_at = schedule.extended_due(
        data.policy,
        data.timezone,
        data.due_date,
        data.due_at,
        new_date=data.change.due_date,
        extend_by=data.change.extend_by,
    )
    return DueDate(due_date=due_date, due_at=due_at)
