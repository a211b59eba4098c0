"""Calendar rules in the client's time zone: due dates, reminder instants, DST gaps and folds."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from billflow import schedule
from models.workflow_io import ReminderPolicy, ReminderStep, ScheduledReminder

NEW_YORK = ZoneInfo("America/New_York")
BERLIN = ZoneInfo("Europe/Berlin")


def calendar(*days: int, hour: int = 9) -> ReminderPolicy:
    return ReminderPolicy(send_hour=hour, steps=[ReminderStep(offset=timedelta(days=d)) for d in days])


def exact(*seconds: int) -> ReminderPolicy:
    return ReminderPolicy(send_hour=None, steps=[ReminderStep(offset=timedelta(seconds=s)) for s in seconds])


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def test_calendar_due_date_is_the_end_of_the_local_day() -> None:
    issued = utc(2026, 3, 1, 23, 30)  # 18:30 in New York, still 1 March there
    due_date, due_at = schedule.initial_due(calendar(0), "America/New_York", issued, timedelta(days=14))
    assert due_date == date(2026, 3, 15)
    # 16 March 00:00 EDT (clocks went forward on 8 March)
    assert due_at == utc(2026, 3, 16, 4)


def test_calendar_due_date_counts_local_days_not_utc_days() -> None:
    issued = utc(2026, 6, 1, 23, 30)  # already 2 June in Berlin
    due_date, _ = schedule.initial_due(calendar(0), "Europe/Berlin", issued, timedelta(days=1))
    assert due_date == date(2026, 6, 3)


def test_exact_policy_is_due_at_issue_plus_terms() -> None:
    issued = utc(2026, 1, 10, 12)
    due_date, due_at = schedule.initial_due(exact(0), "Europe/Berlin", issued, timedelta(seconds=90))
    assert (due_date, due_at) == (date(2026, 1, 10), utc(2026, 1, 10, 12, 1, 30))


@pytest.mark.parametrize(
    ("zone", "day", "expected_utc"),
    [
        ("America/New_York", date(2026, 3, 7), utc(2026, 3, 7, 14)),  # EST, UTC-5
        ("America/New_York", date(2026, 3, 8), utc(2026, 3, 8, 13)),  # change day, EDT from 02:00
        ("America/New_York", date(2026, 3, 9), utc(2026, 3, 9, 13)),
        ("Europe/Berlin", date(2026, 3, 28), utc(2026, 3, 28, 8)),  # CET, UTC+1
        ("Europe/Berlin", date(2026, 3, 29), utc(2026, 3, 29, 7)),  # CEST from 02:00
        ("Europe/Berlin", date(2026, 10, 25), utc(2026, 10, 25, 8)),  # back to CET
    ],
)
def test_send_hour_is_nine_local_on_both_sides_of_dst(zone: str, day: date, expected_utc: datetime) -> None:
    at = schedule.local_instant(day, 9, ZoneInfo(zone))
    assert at == expected_utc
    assert at.astimezone(ZoneInfo(zone)).time() == time(9)


def test_send_hour_in_the_spring_gap_lands_just_after_the_gap() -> None:
    # 02:00 does not exist on 8 March 2026 in New York: the step goes out at 03:00 EDT, once.
    at = schedule.local_instant(date(2026, 3, 8), 2, NEW_YORK)
    assert at == utc(2026, 3, 8, 7)
    assert at.astimezone(NEW_YORK).time() == time(3)


def test_send_hour_in_the_autumn_fold_takes_the_first_occurrence() -> None:
    # 01:00 happens twice on 1 November 2026 in New York (EDT, then EST): the first one is used.
    at = schedule.local_instant(date(2026, 11, 1), 1, NEW_YORK)
    assert at == utc(2026, 11, 1, 5)


def test_calendar_plan_places_each_step_at_the_local_hour_across_the_change() -> None:
    due_date = date(2026, 3, 8)
    plan = schedule.plan_reminders(
        calendar(-3, 0, 3),
        "America/New_York",
        issued_at=utc(2026, 2, 1),
        due_date=due_date,
        due_at=schedule.end_of_local_day(due_date, NEW_YORK),
    )
    assert [r.at for r in plan] == [utc(2026, 3, 5, 14), utc(2026, 3, 8, 13), utc(2026, 3, 11, 13)]
    assert [r.step for r in plan] == [1, 2, 3]
    assert not any(r.done for r in plan)


def test_steps_before_issue_are_skipped() -> None:
    issued = utc(2026, 5, 10, 12)
    due_date, due_at = schedule.initial_due(calendar(-3, -1, 0, 3), "Europe/Berlin", issued, timedelta(days=2))
    plan = schedule.plan_reminders(
        calendar(-3, -1, 0, 3), "Europe/Berlin", issued_at=issued, due_date=due_date, due_at=due_at
    )
    # due 12 May: -3d (9 May) lies before the issue, -1d (11 May 09:00) after it
    assert [(r.step, r.skipped) for r in plan] == [(1, True), (2, False), (3, False), (4, False)]


def test_exact_plan_uses_offsets_from_the_due_instant() -> None:
    due_at = utc(2026, 1, 1, 12)
    plan = schedule.plan_reminders(
        exact(-30, 0, 45), "UTC", issued_at=due_at - timedelta(minutes=5), due_date=due_at.date(), due_at=due_at
    )
    assert [r.at for r in plan] == [due_at - timedelta(seconds=30), due_at, due_at + timedelta(seconds=45)]


def test_replanning_keeps_steps_already_sent_or_skipped() -> None:
    policy = calendar(-3, 0, 3)
    sent = ScheduledReminder(step=1, template="reminder", at=utc(2026, 3, 5, 14), sent=True)
    new_due = date(2026, 3, 22)
    plan = schedule.plan_reminders(
        policy,
        "America/New_York",
        issued_at=utc(2026, 2, 1),
        due_date=new_due,
        due_at=schedule.end_of_local_day(new_due, NEW_YORK),
        already=[sent, ScheduledReminder(step=2, template="reminder", at=utc(2026, 3, 8, 13))],
    )
    assert plan[0] == sent
    assert [r.at for r in plan[1:]] == [utc(2026, 3, 22, 13), utc(2026, 3, 25, 13)]
    assert not plan[1].done


def test_extension_by_days_moves_a_calendar_due_date_to_the_end_of_that_day() -> None:
    due_date = date(2026, 3, 27)
    due_at = schedule.end_of_local_day(due_date, BERLIN)
    new_date, new_at = schedule.extended_due(
        calendar(0), "Europe/Berlin", due_date, due_at, new_date=None, extend_by=timedelta(days=7)
    )
    assert new_date == date(2026, 4, 3)
    assert new_at == utc(2026, 4, 3, 22)  # midnight CEST


def test_extension_to_a_date() -> None:
    due_date = date(2026, 3, 27)
    new_date, new_at = schedule.extended_due(
        calendar(0),
        "Europe/Berlin",
        due_date,
        schedule.end_of_local_day(due_date, BERLIN),
        new_date=date(2026, 3, 28),
        extend_by=None,
    )
    assert (new_date, new_at) == (date(2026, 3, 28), utc(2026, 3, 28, 23))  # 29 March 00:00 CET


def test_extension_of_an_exact_policy_shifts_the_instant() -> None:
    due_at = utc(2026, 1, 1, 23, 59)
    new_date, new_at = schedule.extended_due(
        exact(0), "UTC", due_at.date(), due_at, new_date=None, extend_by=timedelta(minutes=2)
    )
    assert (new_date, new_at) == (date(2026, 1, 2), utc(2026, 1, 2, 0, 1))


def test_calendar_policy_rejects_offsets_that_are_not_whole_days() -> None:
    with pytest.raises(ValueError, match="whole days"):
        ReminderPolicy(send_hour=9, steps=[ReminderStep(offset=timedelta(hours=5))])
