"""The reminder-policy editor's preview: the dates a policy gives a sample invoice, computed by the same
calendar rules the invoice workflow's planning activity uses (billflow.schedule)."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from pydantic import BaseModel

from billflow.schedule import initial_due, plan_reminders
from models.workflow_io import ReminderPolicy, ReminderStep


class PreviewStep(BaseModel):
    step: int
    offset_days: int
    template: str
    at: datetime
    local_label: str
    skipped: bool  # would fall before the invoice is issued


class PolicyPreview(BaseModel):
    issued_at: datetime
    due_date: date
    timezone: str
    steps: list[PreviewStep]


def policy_from_days(days: list[int], send_hour: int | None) -> ReminderPolicy:
    """Steps a number of days from the due date; before or on the day they remind, after it they say overdue."""
    steps = [ReminderStep(offset=timedelta(days=d), template="reminder" if d <= 0 else "overdue") for d in days]
    return ReminderPolicy(steps=steps, send_hour=send_hour)


def preview(policy: ReminderPolicy, *, timezone: str, issued_at: datetime, terms_days: int) -> PolicyPreview:
    due_date, due_at = initial_due(policy, timezone, issued_at, timedelta(days=terms_days))
    plan = plan_reminders(policy, timezone, issued_at=issued_at, due_date=due_date, due_at=due_at)
    return PolicyPreview(
        issued_at=issued_at,
        due_date=due_date,
        timezone=timezone,
        steps=[
            PreviewStep(
                step=r.step,
                offset_days=policy.steps[r.step - 1].offset.days,
                template=r.template,
                at=r.at,
                local_label=r.local_label or "",
                skipped=r.skipped,
            )
            for r in plan
        ],
    )
