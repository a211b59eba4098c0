"""Calendar rules in the client's time zone: due dates and reminder instants.

Runs in activities (never in workflow code): the instants it returns are recorded in workflow history, so a
later tz-database update cannot change a replay.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from models.workflow_io import ReminderPolicy, ScheduledReminder


def local_instant(day: date, hour: int, tz: ZoneInfo) -> datetime:
    """The UTC instant of `hour`:00 local time on `day`.

    fold=0 (PEP 495) gives exactly one instant per wall time: a time inside the spring-forward gap lands just
    after the gap (02:00 becomes 03:00 daylight time), an ambiguous fall-back time takes its first occurrence,
    so a step is never skipped or sent twice on a DST day.
    """
    return datetime.combine(day, time(hour)).replace(tzinfo=tz, fold=0).astimezone(UTC)


def initial_due(policy: ReminderPolicy, timezone: str, issued_at: datetime, terms: timedelta) -> tuple[date, datetime]:
    """(due date, due instant). Calendar policies are due at the end of the local due date; exact ones at
    issue + terms."""
    tz = ZoneInfo(timezone)
    if policy.send_hour is None:
        due_at = issued_at + terms
        return due_at.astimezone(tz).date(), due_at.astimezone(UTC)
    due_date = issued_at.astimezone(tz).date() + timedelta(days=terms.days)
    return due_date, end_of_local_day(due_date, tz)


def end_of_local_day(day: date, tz: ZoneInfo) -> datetime:
    return datetime.combine(day + timedelta(days=1), time(0)).replace(tzinfo=tz).astimezone(UTC)


def extended_due(
    policy: ReminderPolicy,
    timezone: str,
    due_date: date,
    due_at: datetime,
    *,
    new_date: date | None,
    extend_by: timedelta | None,
) -> tuple[date, datetime]:
    tz = ZoneInfo(timezone)
    if new_date is None:
        assert extend_by is not None
        if policy.send_hour is None:
            moved = due_at + extend_by
            return moved.astimezone(tz).date(), moved.astimezone(UTC)
        new_date = due_date + timedelta(days=extend_by.days)
    return new_date, end_of_local_day(new_date, tz)


def plan_reminders(
    policy: ReminderPolicy,
    timezone: str,
    *,
    issued_at: datetime,
    due_date: date,
    due_at: datetime,
    already: list[ScheduledReminder] | None = None,
) -> list[ScheduledReminder]:
    """Every step's instant. Steps already sent or skipped keep their record; steps that would fall before
    the invoice was issued are skipped (a 1-day invoice gets no "3 days before" reminder)."""
    tz = ZoneInfo(timezone)
    done = {r.step: r for r in already or [] if r.done}
    plan: list[ScheduledReminder] = []
    for index, step in enumerate(policy.steps, start=1):
        if index in done:
            plan.append(done[index])
            continue
        if policy.send_hour is None:
            at = due_at + step.offset
        else:
            at = local_instant(due_date + step.offset, policy.send_hour, tz)
        plan.append(
            ScheduledReminder(
                step=index,
                template=step.template,
                at=at,
                local_label=local_label(at, tz),
                skipped=at < issued_at,
            )
        )
    return plan


def local_label(at: datetime, tz: ZoneInfo) -> str:
    """How an operator reads an instant: "2026-12-01 09:00 Europe/London"."""
    return f"{at.astimezone(tz):%Y-%m-%d %H:%M} {tz.key}"
