"""The business's reporting days (issue 11, item 12): one rule for every report, list and view.

Days are days in the reporting zone (BILLFLOW_REPORTING_TIMEZONE), never a client's own calendar. An invoice
counts as of a day when it was issued before that day ended there; it is past due once its due instant is before
that moment. SQL that needs the same rule (repositories/reports.py, clients.py, invoices.py) takes the instants
these functions compute, so the database's own TimeZone setting never matters.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from models.time_zones import check_time_zone


def zone_of(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(check_time_zone(name))
    except (ZoneInfoNotFoundError, ValueError) as err:
        raise ValueError(f"unknown time zone {name!r}") from err


def start_of_day(day: date, zone: str = "UTC") -> datetime:
    return datetime.combine(day, time(0), tzinfo=zone_of(zone)).astimezone(UTC)


def end_of_day(day: date, zone: str = "UTC") -> datetime:
    """ "As of a date" means at the end of that day: the next midnight in the reporting zone, as a UTC instant."""
    return start_of_day(day + timedelta(days=1), zone)


def today_in(zone: str = "UTC", *, now: datetime | None = None) -> date:
    return (now or datetime.now(UTC)).astimezone(zone_of(zone)).date()


def days_past_due(due_at: datetime, *, as_of: date, zone: str = "UTC") -> int:
    """Whole days past due at the end of `as_of`: 1 on the reporting-zone day the due instant passes, 0 or less
    while it is still ahead (repositories/reports.py computes the same in SQL)."""
    return (as_of + timedelta(days=1) - due_at.astimezone(zone_of(zone)).date()).days
