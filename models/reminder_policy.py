"""A reminder policy: the steps, relative to the due date, on which an invoice's reminders are sent.

Its own module (pure pydantic, nothing else imported; re-exported from models.workflow_io, where workflows and
activities take it from) so what shows a policy, like `billflow workspace show`, need not build every workflow
contract first (about 0.15 s of CLI start-up; issue 11, item 15).
"""

from __future__ import annotations

from datetime import timedelta

from pydantic import BaseModel, Field, model_validator


class ReminderStep(BaseModel):
    """One reminder: an offset from the due date (negative = before) and the template it is sent with."""

    offset: timedelta
    template: str = Field(default="reminder", pattern=r"^[a-z_]{1,40}$")
    # Collections: at this step, also issue the interest invoice for the interest accrued so far (only for a
    # booking with late-interest terms, never while a hold stops the step).
    issue_interest: bool = False


class ReminderPolicy(BaseModel):
    """Steps relative to the due date, sent at `send_hour` local time or, if it is None, at exact offsets."""

    steps: list[ReminderStep] = Field(default_factory=list, max_length=50)
    send_hour: int | None = Field(default=9, ge=0, le=23)

    @model_validator(mode="after")
    def _whole_days_when_calendar(self) -> ReminderPolicy:
        if self.send_hour is not None:
            for step in self.steps:
                if step.offset % timedelta(days=1):
                    raise ValueError("with send_hour set, every step offset must be whole days")
        return self

    @classmethod
    def standard(cls) -> ReminderPolicy:
        """-3d, on the day, +3d, +7d, +14d at 09:00 in the client's time zone."""
        days = [-3, 0, 3, 7, 14]
        return cls(
            steps=[ReminderStep(offset=timedelta(days=d), template="reminder" if d <= 0 else "overdue") for d in days]
        )
