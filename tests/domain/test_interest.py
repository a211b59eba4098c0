"""Late-payment interest against worked examples computed by hand (interest = principal x rate x days / 365,
summed exactly, rounded half up once). Reference rates as published for each six-month period:
ECB main refinancing rate 4.50 % (1 Jan 2024), 4.25 % (1 Jul 2024), 3.15 % (1 Jan 2025), 2.15 % (1 Jul 2025);
Bundesbank Basiszinssatz 3.62 % (H1 2024), 3.37 % (H2 2024), 2.27 % (H1 2025); Bank of England base rate
5.25 % (30 Jun 2024, for H2 2024), 4.75 % (31 Dec 2024, for H1 2025)."""

from __future__ import annotations

from datetime import date

import pytest

from billflow.domain.interest import (
    InterestExcluded,
    MissingReferenceRate,
    Preset,
    RatePeriod,
    Settlement,
    compensation_minor,
    quote_interest,
)

ECB = [
    RatePeriod(date(2024, 1, 1), date(2024, 6, 30), 450),
    RatePeriod(date(2024, 7, 1), date(2024, 12, 31), 425),
    RatePeriod(date(2025, 1, 1), date(2025, 6, 30), 315),
    RatePeriod(date(2025, 7, 1), date(2025, 12, 31), 215),
]
BASISZINS = [
    RatePeriod(date(2024, 1, 1), date(2024, 6, 30), 362),
    RatePeriod(date(2024, 7, 1), date(2024, 12, 31), 337),
    RatePeriod(date(2025, 1, 1), date(2025, 6, 30), 227),
]
BOE = [
    RatePeriod(date(2024, 7, 1), date(2024, 12, 31), 525),
    RatePeriod(date(2025, 1, 1), date(2025, 6, 30), 475),
]


def test_eu_b2b_thirty_days_late() -> None:
    # EUR 10,000.00 due 31 Mar 2024, paid 30 Apr 2024: 30 days at 4.50 + 8 = 12.50 %.
    # 10,000 x 0.125 x 30 / 365 = 102.7397... -> 102.74; compensation EUR 40.
    quote = quote_interest(
        Preset.eu_b2b,
        principal_minor=1_000_000,
        currency="EUR",
        due_date=date(2024, 3, 31),
        until=date(2024, 4, 30),
        rates=ECB,
    )
    assert (quote.interest_minor, quote.compensation_minor) == (10_274, 4_000)
    assert [(s.days, s.rate_bp) for s in quote.segments] == [(30, 1250)]


def test_de_b2b_part_payment_and_a_rate_change_across_the_period_boundary() -> None:
    # EUR 5,000.00 due 15 Jun 2024; EUR 2,000.00 paid 10 Jul; the rest paid 14 Aug.
    # 16-30 Jun: 15 days x 5,000 at 3.62 + 9 = 12.62 %  -> 25.9315...
    #  1-10 Jul: 10 days x 5,000 at 3.37 + 9 = 12.37 %  -> 16.9452...
    # 11 Jul-14 Aug: 35 days x 3,000 at 12.37 %         -> 35.5849...
    # total 28,638.5 / 365 = 78.4616... -> 78.46; compensation EUR 40.
    quote = quote_interest(
        Preset.de_b2b,
        principal_minor=500_000,
        currency="EUR",
        due_date=date(2024, 6, 15),
        until=date(2024, 8, 14),
        settlements=[Settlement(date(2024, 7, 10), 200_000), Settlement(date(2024, 8, 14), 300_000)],
        rates=BASISZINS,
    )
    assert [(s.first_day, s.days, s.principal_minor, s.rate_bp) for s in quote.segments] == [
        (date(2024, 6, 16), 15, 500_000, 1262),
        (date(2024, 7, 1), 10, 500_000, 1237),
        (date(2024, 7, 11), 35, 300_000, 1237),
    ]
    assert (quote.interest_minor, quote.compensation_minor) == (7_846, 4_000)


def test_de_consumer_five_points_and_no_compensation() -> None:
    # EUR 1,000.00 due 31 Dec 2024, paid 31 Jan 2025: 31 days at 2.27 + 5 = 7.27 % -> 6.1745... -> 6.17.
    quote = quote_interest(
        Preset.de_consumer,
        principal_minor=100_000,
        currency="EUR",
        due_date=date(2024, 12, 31),
        until=date(2025, 1, 31),
        rates=BASISZINS,
        consumer=True,
    )
    assert (quote.interest_minor, quote.compensation_minor) == (617, 0)


def test_fr_b2b_ecb_plus_ten_points_per_half_year() -> None:
    # EUR 2,400.00 due 20 Jun 2025, paid 20 Jul 2025.
    # 21-30 Jun: 10 days at 3.15 + 10 = 13.15 % -> 8.6465...; 1-20 Jul: 20 days at 2.15 + 10 = 12.15 % -> 15.9780...
    # total 8,988 / 365 = 24.6246... -> 24.62; compensation EUR 40.
    quote = quote_interest(
        Preset.fr_b2b,
        principal_minor=240_000,
        currency="EUR",
        due_date=date(2025, 6, 20),
        until=date(2025, 7, 20),
        rates=ECB,
    )
    assert [(s.days, s.rate_bp) for s in quote.segments] == [(10, 1315), (20, 1215)]
    assert (quote.interest_minor, quote.compensation_minor) == (2_462, 4_000)


def test_uk_b2b_rate_fixed_for_the_whole_delay_and_compensation_by_amount() -> None:
    # GBP 12,000.00 due 15 Dec 2024, paid 14 Jan 2025: 30 days at 5.25 + 8 = 13.25 %, the rate of the half-year
    # the debt became overdue in, although the base rate fell on 1 Jan: 12,000 x 0.1325 x 30 / 365 = 130.6849...
    quote = quote_interest(
        Preset.uk_b2b,
        principal_minor=1_200_000,
        currency="GBP",
        due_date=date(2024, 12, 15),
        until=date(2025, 1, 14),
        rates=BOE,
    )
    assert [(s.days, s.rate_bp) for s in quote.segments] == [(30, 1325)]
    assert (quote.interest_minor, quote.compensation_minor) == (13_068, 10_000)
    assert compensation_minor(Preset.uk_b2b, principal_minor=99_999, currency="GBP") == 4_000
    assert compensation_minor(Preset.uk_b2b, principal_minor=100_000, currency="GBP") == 7_000
    assert compensation_minor(Preset.uk_b2b, principal_minor=999_999, currency="GBP") == 7_000
    assert compensation_minor(Preset.uk_b2b, principal_minor=1_000_000, currency="GBP") == 10_000


def test_contractual_rate() -> None:
    # EUR 1,000.00 at 10 % a year, due 10 Jan 2025, paid 11 Mar 2025: 21 + 28 + 11 = 60 days -> 16.4383... -> 16.44.
    quote = quote_interest(
        Preset.contractual,
        principal_minor=100_000,
        currency="EUR",
        due_date=date(2025, 1, 10),
        until=date(2025, 3, 11),
        contractual_rate_bp=1000,
        agreed_fee_minor=1_500,
    )
    assert (quote.interest_minor, quote.compensation_minor) == (1_644, 1_500)


def test_paid_on_the_due_date_or_before_accrues_nothing() -> None:
    on_time = quote_interest(
        Preset.eu_b2b, principal_minor=100_000, currency="EUR", due_date=date(2024, 3, 31), until=date(2024, 3, 31)
    )
    assert (on_time.interest_minor, on_time.compensation_minor, on_time.segments) == (0, 0, [])
    settled = quote_interest(
        Preset.eu_b2b,
        principal_minor=100_000,
        currency="EUR",
        due_date=date(2024, 3, 31),
        until=date(2024, 5, 31),
        settlements=[Settlement(date(2024, 3, 30), 100_000)],
        rates=ECB,
    )
    assert (settled.interest_minor, settled.compensation_minor) == (0, 0)


def test_statutory_b2b_presets_exclude_consumers() -> None:
    for preset in (Preset.eu_b2b, Preset.de_b2b, Preset.fr_b2b, Preset.uk_b2b):
        with pytest.raises(InterestExcluded):
            quote_interest(
                preset,
                principal_minor=100_000,
                currency="EUR",
                due_date=date(2024, 3, 31),
                until=date(2024, 4, 30),
                rates=ECB,
                consumer=True,
            )


def test_a_day_without_a_reference_rate_is_an_error_naming_it() -> None:
    with pytest.raises(MissingReferenceRate, match="2026-01-01"):
        quote_interest(
            Preset.eu_b2b,
            principal_minor=100_000,
            currency="EUR",
            due_date=date(2025, 12, 30),
            until=date(2026, 1, 5),
            rates=ECB,
        )


def test_a_second_interest_invoice_counts_from_the_day_after_the_first_and_charges_no_second_fee() -> None:
    # The EU example split at 15 Apr 2024: 15 days (51.37) then 15 days (51.37) = the 30 days of one invoice,
    # to a cent of rounding: 1,000,000 x 1250 x 15 / 3,650,000 = 5,136.99 -> 5,137 each.
    first = quote_interest(
        Preset.eu_b2b,
        principal_minor=1_000_000,
        currency="EUR",
        due_date=date(2024, 3, 31),
        until=date(2024, 4, 15),
        rates=ECB,
    )
    second = quote_interest(
        Preset.eu_b2b,
        principal_minor=1_000_000,
        currency="EUR",
        due_date=date(2024, 3, 31),
        until=date(2024, 4, 30),
        rates=ECB,
        accrue_from=date(2024, 4, 16),
        with_compensation=False,
    )
    assert (first.interest_minor, first.compensation_minor) == (5_137, 4_000)
    assert (second.interest_minor, second.compensation_minor) == (5_137, 0)
    assert [(s.first_day, s.days) for s in second.segments] == [(date(2024, 4, 16), 15)]
