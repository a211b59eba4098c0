"""Billing periods of a subscription, calendar-correct in the client's time zone.

Pure functions (no I/O, no clock). Called from activities only, never from workflow code: ZoneInfo does not
work in the sandbox, and the instants an activity returns are recorded in history, so a later tz-database update
cannot change a replay.

Rules:
- Periods are local calendar dates. Period n of a month-based interval is computed from the anchor and n, never
  from period n-1, so the 31st survives short months: Jan 31, Feb 28 (29 in leap years), Mar 31, Apr 30, ...
- A period is billed at `issue_hour`:00 local time on its first day (cron: at the cron time). One local date gives
  exactly one instant (fold=0): a time in the spring-forward gap moves just past the gap, an ambiguous fall-back
  time takes its first occurrence, so a DST day neither skips a period nor fires one twice.
- `end_date` is the last day of service: no period starts after it, and the last period ends on it at the latest.
  `max_cycles` counts periods from the start date (periods skipped by a pause count: the term is calendar time).
"""

from __future__ import annotations

import calendar
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from croniter import croniter

from models.subscription_io import BillingSchedule, IntervalKind, Period

# A period search never walks further than this many periods (a cron that matches once in 28 years, say).
MAX_SCAN = 20_000


def add_months(year: int, month: int, months: int) -> tuple[int, int]:
    index = year * 12 + (month - 1) + months
    return index // 12, index % 12 + 1


def clamped_day(year: int, month: int, day: int) -> date:
    """`day` of the month, or the month's last day when it is shorter (31 -> 30, 28 or 29)."""
    return date(year, month, min(day, calendar.monthrange(year, month)[1]))


def _anchor(schedule: BillingSchedule) -> tuple[int, int, int]:
    """(year, month, day) of the first month-based period: the first anchor day on or after the start date."""
    start = schedule.start_date
    day = schedule.interval.day_of_month or start.day
    if clamped_day(start.year, start.month, day) >= start:
        return start.year, start.month, day
    year, month = add_months(start.year, start.month, 1)
    return year, month, day


def _calendar_start(schedule: BillingSchedule, index: int) -> date:
    interval = schedule.interval
    if interval.kind is IntervalKind.weekly:
        return schedule.start_date + timedelta(weeks=interval.every * index)
    year, month, day = _anchor(schedule)
    year, month = add_months(year, month, interval.kind.months * interval.every * index)
    return clamped_day(year, month, day)


def _cron_fire_after(expression: str, after: datetime) -> datetime:
    """The next naive local wall-clock fire strictly after `after` (naive local)."""
    fire: datetime = croniter(expression, after).get_next(datetime)
    return fire


def _first_cron_fire(schedule: BillingSchedule) -> datetime:
    assert schedule.interval.cron is not None
    start_of_day = datetime.combine(schedule.start_date, time(0))
    return _cron_fire_after(schedule.interval.cron, start_of_day - timedelta(seconds=1))


def _build(schedule: BillingSchedule, index: int, local_start: datetime, next_start: date) -> Period | None:
    if schedule.max_cycles is not None and index >= schedule.max_cycles:
        return None
    start = local_start.date()
    if schedule.end_date is not None and start > schedule.end_date:
        return None
    end = next_start - timedelta(days=1)
    if schedule.end_date is not None:
        end = min(end, schedule.end_date)
    starts_at = local_to_utc(local_start, schedule.timezone)
    return Period(index=index, start=start, end=end, starts_at=starts_at, local_start=local_start)


def local_to_utc(wall: datetime, timezone: str) -> datetime:
    """The one UTC instant of a naive local wall time (fold=0, PEP 495): see the module docstring."""
    return wall.replace(tzinfo=ZoneInfo(timezone), fold=0).astimezone(UTC)


def period_at(schedule: BillingSchedule, index: int) -> Period | None:
    """Period number `index` (0-based) of a calendar interval, or None past the end date or cycle count."""
    if schedule.interval.kind is IntervalKind.cron:
        period = first_period(schedule)
        while period is not None and period.index < index:
            period = next_period(schedule, period)
        return period
    start = _calendar_start(schedule, index)
    local_start = datetime.combine(start, time(schedule.issue_hour))
    return _build(schedule, index, local_start, _calendar_start(schedule, index + 1))


def first_period(schedule: BillingSchedule) -> Period | None:
    if schedule.interval.kind is not IntervalKind.cron:
        return period_at(schedule, 0)
    fire = _first_cron_fire(schedule)
    return _cron_period(schedule, 0, fire)


def _cron_period(schedule: BillingSchedule, index: int, fire: datetime) -> Period | None:
    assert schedule.interval.cron is not None
    following = _cron_fire_after(schedule.interval.cron, fire)
    return _build(schedule, index, fire, following.date())


def next_period(schedule: BillingSchedule, previous: Period | None) -> Period | None:
    """The period after `previous` (the first one when it is None); None when billing is over."""
    if previous is None:
        return first_period(schedule)
    if schedule.interval.kind is not IntervalKind.cron:
        return period_at(schedule, previous.index + 1)
    assert schedule.interval.cron is not None
    fire = _cron_fire_after(schedule.interval.cron, previous.local_start)
    return _cron_period(schedule, previous.index + 1, fire)


def period_starting(schedule: BillingSchedule, day: date) -> Period | None:
    """The period that starts on `day`, or None if no period does."""
    period = first_period(schedule)
    for _ in range(MAX_SCAN):
        if period is None or period.start > day:
            return None
        if period.start == day:
            return period
        period = next_period(schedule, period)
    return None


def periods_until(schedule: BillingSchedule, until: datetime) -> list[Period]:
    """Every period billed at or before the instant `until`, in order (for reports, tests and backfills)."""
    out: list[Period] = []
    period = first_period(schedule)
    while period is not None and period.starts_at <= until and len(out) < MAX_SCAN:
        out.append(period)
        period = next_period(schedule, period)
    return out


def count_due(schedule: BillingSchedule, until: datetime, *, stop_after: int) -> int:
    """How many periods are due at or before `until`, counting no further than `stop_after` + 1 (so a daily plan
    from 2000 costs 13 steps, not 9,800)."""
    count = 0
    period = first_period(schedule)
    while period is not None and period.starts_at <= until and count <= stop_after:
        count += 1
        period = next_period(schedule, period)
    return count
