"""Report figures on the known ledger of tests/reports/dataset.py, computed by hand."""

from __future__ import annotations

from datetime import date

from billflow.db import Database
from billflow.services import reports
from billflow.services.reports import Grain
from tests.reports.dataset import AS_OF, EXPECTED_AGING_EUR


async def test_aging_buckets_split_exactly_at_30_60_and_90_days(reports_db: Database) -> None:
    async with reports_db.session() as session:
        report = await reports.aging(session, as_of=AS_OF)
    eur = next(r for r in report.rows if r.currency == "EUR")
    assert eur.model_dump(include=set(EXPECTED_AGING_EUR)) == EXPECTED_AGING_EUR
    assert eur.total_minor == sum(EXPECTED_AGING_EUR.values())


async def test_aging_keeps_currencies_apart(reports_db: Database) -> None:
    async with reports_db.session() as session:
        report = await reports.aging(session, as_of=AS_OF)
    usd = next(r for r in report.rows if r.currency == "USD")
    assert (usd.current_minor, usd.total_minor, usd.invoice_count) == (5_000, 5_000, 1)


async def test_aging_a_day_later_moves_each_boundary_invoice_one_bucket_on(reports_db: Database) -> None:
    async with reports_db.session() as session:
        report = await reports.aging(session, as_of=date(2026, 7, 1))
    eur = next(r for r in report.rows if r.currency == "EUR")
    # due-today becomes 1 day late; 30->31, 60->61, 90->91; paid-later is still owed (paid on 2 July).
    assert eur.current_minor == 100
    assert eur.days_1_30_minor == 200 + 400 + 51_200 + 300 + 777
    assert eur.days_31_60_minor == 800 + 1_600 + 700
    assert eur.days_61_90_minor == 3_200 + 6_400
    assert eur.over_90_minor == 12_800 + 25_600


async def test_aging_after_a_late_payment_no_longer_counts_it(reports_db: Database) -> None:
    async with reports_db.session() as session:
        report = await reports.aging(session, as_of=date(2026, 7, 2))
    eur = next(r for r in report.rows if r.currency == "EUR")
    # due-today, dpd-1, the reopened 300 and voided-later (voided on 3 July): paid-later is settled
    assert eur.days_1_30_minor == 200 + 400 + 300 + 777


async def test_cash_collected_by_day_nets_refunds(reports_db: Database) -> None:
    async with reports_db.session() as session:
        report = await reports.cash_collected(session, grain=Grain.day, start=date(2026, 6, 1), end=date(2026, 6, 30))
    by_day = {(r.period, r.currency): r.net_minor for r in report.rows}
    assert by_day == {
        (date(2026, 6, 1), "EUR"): 1_500,
        (date(2026, 6, 3), "EUR"): 2_000,
        (date(2026, 6, 4), "EUR"): 700,
        (date(2026, 6, 8), "EUR"): -300,
    }


async def test_cash_collected_days_follow_the_requested_time_zone(reports_db: Database) -> None:
    async with reports_db.session() as session:
        report = await reports.cash_collected(
            session, grain=Grain.day, start=date(2026, 6, 1), end=date(2026, 6, 30), time_zone="America/New_York"
        )
    assert {r.period: r.net_minor for r in report.rows} == {
        date(2026, 6, 1): 1_500,
        date(2026, 6, 3): 2_700,  # 02:00 UTC on the 4th is 22:00 on the 3rd in New York
        date(2026, 6, 8): -300,
    }


async def test_cash_collected_by_week_starts_on_monday(reports_db: Database) -> None:
    async with reports_db.session() as session:
        report = await reports.cash_collected(session, grain=Grain.week, start=date(2026, 6, 1), end=date(2026, 6, 30))
    assert {r.period: r.net_minor for r in report.rows} == {date(2026, 6, 1): 4_200, date(2026, 6, 8): -300}


async def test_cash_collected_by_month_reports_received_refunded_and_net(reports_db: Database) -> None:
    async with reports_db.session() as session:
        report = await reports.cash_collected(session, grain=Grain.month, start=date(2026, 5, 1), end=date(2026, 7, 31))
    june = next(r for r in report.rows if r.period == date(2026, 6, 1))
    assert (june.received_minor, june.refunded_minor, june.net_minor) == (4_200, 300, 3_900)
    assert (june.payment_count, june.refund_count) == (4, 1)
    assert {r.period: r.net_minor for r in report.rows} == {
        date(2026, 5, 1): 9_000,
        date(2026, 6, 1): 3_900,
        date(2026, 7, 1): 51_200,
    }


async def test_dso_is_receivables_over_period_sales_times_days(reports_db: Database) -> None:
    async with reports_db.session() as session:
        report = await reports.days_sales_outstanding(session, as_of=AS_OF, days=90)
    eur = next(r for r in report.rows if r.currency == "EUR")
    # Issued 2 April to 30 June, void excluded: every EUR invoice but the two voided, issued-later, dpd-90, dpd-91.
    sales = 100 + 200 + 400 + 800 + 1_600 + 3_200 + 6_400 + 1_000 + 9_000 + 51_200 + 4_200
    assert (eur.receivable_minor, eur.sales_minor) == (104_077, sales)
    assert eur.dso_days == round(104_077 / sales * 90, 1) == 119.9
    usd = next(r for r in report.rows if r.currency == "USD")
    assert usd.dso_days == 90.0


async def test_top_overdue_clients_are_ranked_by_balance_past_due(reports_db: Database) -> None:
    async with reports_db.session() as session:
        report = await reports.top_overdue_clients(session, as_of=AS_OF, limit=10)
    assert [(r.external_id, r.overdue_minor, r.invoice_count, r.oldest_days_past_due) for r in report.rows] == [
        ("ds-bolt", 6_400 + 12_800 + 25_600 + 51_200, 4, 91),
        ("ds-acme", 400 + 800 + 1_600 + 3_200 + 700, 5, 60),
        ("ds-calm", 300 + 777, 2, 15),
    ]


async def test_reminder_effectiveness_counts_payments_within_the_window(reports_db: Database) -> None:
    async with reports_db.session() as session:
        week = await reports.reminder_effectiveness(
            session, within_days=7, start=date(2026, 1, 1), end=date(2026, 12, 31)
        )
        fortnight = await reports.reminder_effectiveness(
            session, within_days=14, start=date(2026, 1, 1), end=date(2026, 12, 31)
        )
    assert [(r.step, r.reminded, r.paid_within) for r in week.rows] == [(1, 3, 1), (2, 2, 1)]
    assert [(r.step, r.reminded, r.paid_within) for r in fortnight.rows] == [(1, 3, 2), (2, 2, 1)]
    assert week.rows[0].share_paid == round(1 / 3, 4)


async def test_csv_export_has_a_header_and_one_line_per_row(reports_db: Database) -> None:
    async with reports_db.session() as session:
        report = await reports.aging(session, as_of=AS_OF)
    lines = reports.to_csv(report).splitlines()
    assert lines[0].split(",")[:3] == ["currency", "current_minor", "days_1_30_minor"]
    assert lines[1].startswith("EUR,300,53477,5500,19200,25600,104077,")
    assert len(lines) == 3


async def test_csv_of_an_empty_report_still_has_its_header(reports_db: Database) -> None:
    async with reports_db.session() as session:
        report = await reports.aging(session, as_of=date(2020, 1, 1))
    assert reports.to_csv(report).splitlines() == [
        "currency,current_minor,days_1_30_minor,days_31_60_minor,days_61_90_minor,over_90_minor,total_minor,invoice_count"
    ]
