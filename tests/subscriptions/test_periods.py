"""The period calculator: calendar-correct periods in the client's time zone, exhaustively and by property."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from billflow import periods
from models.subscription_io import BillingInterval, BillingSchedule, IntervalKind, Period
from tests.subscriptions.support import month_end_clamped


def schedule(kind: str = "monthly", start: date = date(2027, 1, 31), **kw: object) -> BillingSchedule:
    interval_fields = {k: kw.pop(k) for k in ("every", "day_of_month", "cron") if k in kw}
    return BillingSchedule(
        interval=BillingInterval(kind=IntervalKind(kind), **interval_fields),  # type: ignore[arg-type]
        start_date=start,
        **kw,  # type: ignore[arg-type]
    )


def take(s: BillingSchedule, n: int) -> list[Period]:
    out: list[Period] = []
    period = periods.first_period(s)
    while period is not None and len(out) < n:
        out.append(period)
        period = periods.next_period(s, period)
    return out


@pytest.mark.parametrize("year", [2027, 2028])  # 2028 is a leap year
def test_monthly_from_jan_31_gives_twelve_calendar_correct_periods(year: int) -> None:
    s = schedule(start=date(year, 1, 31), timezone="America/New_York", max_cycles=12)
    got = take(s, 100)
    starts = [month_end_clamped(year, m, 31) for m in range(1, 13)]
    ends = [d - timedelta(days=1) for d in [*starts[1:], date(year + 1, 1, 31)]]
    assert [(p.start, p.end) for p in got] == list(zip(starts, ends, strict=True))
    assert got[1].start == date(year, 2, 29 if year == 2028 else 28)
    assert got[2].start == date(year, 3, 31)  # back to the 31st, no drift
    assert [p.index for p in got] == list(range(12))


def test_monthly_instants_are_issue_hour_local_on_the_first_day() -> None:
    tz = ZoneInfo("America/New_York")
    for p in take(schedule(timezone="America/New_York", issue_hour=9), 12):
        local = p.starts_at.astimezone(tz)
        assert (local.date(), local.hour, local.minute) == (p.start, 9, 0)
        assert p.starts_at.tzinfo is not None


def test_day_of_month_31_starts_at_the_first_anchor_after_the_start_date() -> None:
    got = take(schedule(start=date(2027, 4, 10), day_of_month=31), 4)
    assert [p.start for p in got] == [date(2027, 4, 30), date(2027, 5, 31), date(2027, 6, 30), date(2027, 7, 31)]


def test_quarterly_on_the_30th_through_february() -> None:
    got = take(schedule("quarterly", start=date(2027, 11, 30)), 5)
    assert [p.start for p in got] == [
        date(2027, 11, 30),
        date(2028, 2, 29),
        date(2028, 5, 30),
        date(2028, 8, 30),
        date(2028, 11, 30),
    ]
    assert got[0].end == date(2028, 2, 28)


def test_yearly_from_feb_29_keeps_the_29th_in_leap_years() -> None:
    got = take(schedule("yearly", start=date(2028, 2, 29)), 5)
    assert [p.start for p in got] == [
        date(2028, 2, 29),
        date(2029, 2, 28),
        date(2030, 2, 28),
        date(2031, 2, 28),
        date(2032, 2, 29),
    ]


def test_every_two_weeks() -> None:
    got = take(schedule("weekly", start=date(2027, 1, 4), every=2), 3)
    assert [(p.start, p.end) for p in got] == [
        (date(2027, 1, 4), date(2027, 1, 17)),
        (date(2027, 1, 18), date(2027, 1, 31)),
        (date(2027, 2, 1), date(2027, 2, 14)),
    ]


@pytest.mark.parametrize(
    ("zone", "spring", "autumn"),
    [
        ("America/New_York", date(2027, 3, 14), date(2027, 11, 7)),
        ("Europe/Berlin", date(2027, 3, 28), date(2027, 10, 31)),
    ],
)
@pytest.mark.parametrize("hour", [0, 1, 2, 3, 9])  # 2 is inside both spring gaps, 1 and 2 ambiguous in autumn
def test_weekly_across_both_dst_changes_fires_once_per_week(zone: str, spring: date, autumn: date, hour: int) -> None:
    """Weekly on the DST Sundays themselves: each week one instant, in order, never two on a day, none skipped."""
    tz = ZoneInfo(zone)
    s = schedule("weekly", start=spring - timedelta(weeks=2), timezone=zone, issue_hour=hour)
    got = [p for p in take(s, 40) if p.start <= autumn + timedelta(weeks=2)]
    assert [p.start for p in got] == [s.start_date + timedelta(weeks=i) for i in range(len(got))]
    assert spring in [p.start for p in got] and autumn in [p.start for p in got]
    instants = [p.starts_at for p in got]
    assert instants == sorted(set(instants))  # strictly increasing: nothing twice
    for p in got:
        local = p.starts_at.astimezone(tz)
        assert local.date() == p.start
        # Only a wall time that does not exist moves (past the gap, by the hour the clocks jump).
        expected_hour = hour + 1 if (p.start == spring and zone.endswith("York") and hour == 2) else hour
        if zone == "Europe/Berlin" and p.start == spring and hour == 2:
            expected_hour = 3
        assert local.hour == expected_hour
    gaps = {b.starts_at - a.starts_at for a, b in pairwise(got)}
    assert gaps <= {timedelta(hours=167), timedelta(hours=168), timedelta(hours=169)}


def test_ambiguous_autumn_hour_takes_the_first_occurrence() -> None:
    s = schedule("weekly", start=date(2027, 11, 7), timezone="America/New_York", issue_hour=1)
    p = periods.period_starting(s, date(2027, 11, 7))
    assert p is not None
    assert p.starts_at == datetime(2027, 11, 7, 5, 0, tzinfo=UTC)  # 01:00 EDT, not 01:00 EST


@pytest.mark.parametrize("zone", ["America/New_York", "Europe/Berlin"])
def test_daily_cron_in_the_spring_gap_fires_once_each_day(zone: str) -> None:
    s = schedule("cron", start=date(2027, 3, 1), cron="30 2 * * *", timezone=zone)
    got = take(s, 60)
    assert [p.start for p in got] == [date(2027, 3, 1) + timedelta(days=i) for i in range(60)]
    assert all(p.start == p.end for p in got)
    instants = [p.starts_at for p in got]
    assert instants == sorted(set(instants))


def test_monthly_cron_on_the_first_at_nine() -> None:
    got = take(schedule("cron", start=date(2027, 1, 15), cron="0 9 1 * *", timezone="Europe/Berlin"), 3)
    assert [(p.start, p.end) for p in got] == [
        (date(2027, 2, 1), date(2027, 2, 28)),
        (date(2027, 3, 1), date(2027, 3, 31)),
        (date(2027, 4, 1), date(2027, 4, 30)),
    ]
    assert got[1].starts_at == datetime(2027, 3, 1, 8, 0, tzinfo=UTC)


def test_max_cycles_and_end_date_stop_the_periods() -> None:
    assert len(take(schedule(max_cycles=3), 100)) == 3
    got = take(schedule(start=date(2027, 1, 31), end_date=date(2027, 4, 15)), 100)
    assert [(p.start, p.end) for p in got][-1] == (date(2027, 3, 31), date(2027, 4, 15))
    assert len(got) == 3


def test_period_starting_finds_only_real_period_starts() -> None:
    s = schedule()
    found = periods.period_starting(s, date(2027, 2, 28))
    assert found is not None and found.index == 1
    assert periods.period_starting(s, date(2027, 2, 27)) is None


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"kind": "cron", "cron": "*/5 * * * *"}, "cron"),
        ({"kind": "cron", "cron": "not a cron"}, "cron"),
        ({"kind": "cron"}, "cron"),
        ({"kind": "weekly", "day_of_month": 3}, "day_of_month"),
        ({"kind": "monthly", "day_of_month": 32}, "day_of_month"),
    ],
)
def test_invalid_intervals_are_rejected_naming_the_field(fields: dict[str, object], field: str) -> None:
    with pytest.raises(ValidationError) as err:
        BillingInterval(**fields)  # type: ignore[arg-type]
    assert field in str(err.value)


ZONES = ["UTC", "America/New_York", "Europe/Berlin", "Australia/Lord_Howe", "America/Santiago", "Asia/Kolkata"]


@settings(max_examples=150, deadline=None)
@given(
    kind=st.sampled_from(["weekly", "monthly", "quarterly", "yearly"]),
    every=st.integers(1, 4),
    start=st.dates(date(2024, 1, 1), date(2032, 12, 31)),
    day_of_month=st.none() | st.integers(1, 31),
    zone=st.sampled_from(ZONES),
    hour=st.integers(0, 23),
)
def test_periods_tile_the_calendar_and_fire_in_order(
    kind: str, every: int, start: date, day_of_month: int | None, zone: str, hour: int
) -> None:
    extra: dict[str, object] = {"every": every}
    if kind != "weekly" and day_of_month is not None:
        extra["day_of_month"] = day_of_month
    s = schedule(kind, start=start, timezone=zone, issue_hour=hour, **extra)
    got = take(s, 30)
    assert got[0].start >= start
    for a, b in pairwise(got):
        assert b.start == a.end + timedelta(days=1)  # contiguous, no overlap
        assert b.starts_at > a.starts_at
        assert b.index == a.index + 1
    for p in got:
        assert p.end >= p.start
        assert p.starts_at.astimezone(ZoneInfo(zone)).date() == p.start
        assert periods.period_at(s, p.index) == p  # by index == by iteration
    if kind != "weekly":
        anchor = day_of_month or start.day
        assert all(p.start.day == min(anchor, month_end_clamped(p.start.year, p.start.month, 31).day) for p in got)


@pytest.mark.parametrize(
    ("interval", "label"),
    [
        (BillingInterval(kind=IntervalKind.monthly), "monthly"),
        (BillingInterval(kind=IntervalKind.monthly, day_of_month=1), "monthly on day 1"),
        (BillingInterval(kind=IntervalKind.weekly, every=2), "every 2 weeks"),
        (BillingInterval(kind=IntervalKind.quarterly, every=2, day_of_month=31), "every 2 quarters on day 31"),
        (BillingInterval(kind=IntervalKind.cron, cron="0 9 1 * *"), "cron 0 9 1 * *"),
    ],
)
def test_an_interval_reads_as_staff_say_it(interval: BillingInterval, label: str) -> None:
    assert interval.label == label
