"""Late-payment interest and fixed compensation, by law or by contract: a pure calculation.

Simple interest per day, from the day after the due date up to and including the day of payment (a payment
made on the due date accrues nothing), on the balance outstanding that day, at the annual rate in force that
day, over a 365-day year. The sum is exact (integers) and rounded half up once, to a minor unit.

Presets (statutory rates are a reference rate plus a margin; reference rates come in six-month periods):
- eu_b2b   Directive 2011/7/EU, B2B: reference rate (ECB main refinancing operations, the rate in force on the
           first day of each half-year) + 8 points; EUR 40 compensation. Not for consumers.
- de_b2b   BGB § 288 (2): Basiszinssatz + 9 points; EUR 40 (§ 288 (5)).
- de_consumer BGB § 288 (1): Basiszinssatz + 5 points; no compensation.
- fr_b2b   Code de commerce L441-10: ECB rate + 10 points, the rate in force on 1 January / 1 July for each
           half-year; EUR 40 (indemnité forfaitaire). Not for consumers.
- uk_b2b   Late Payment of Commercial Debts (Interest) Act 1998: Bank of England base rate + 8 %, the reference
           rate of the half-year in which the debt became overdue, fixed for the whole delay; GBP 40 / 70 / 100
           for debts under 1,000 / under 10,000 / above. Not for consumers.
- contractual  the rate agreed in the contract (annual, basis points), optional agreed fee.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from enum import StrEnum

from models.enums import InterestPreset

DAYS_PER_YEAR = 365
_BP = 10_000  # basis points in 100 %


Preset = InterestPreset  # the presets are part of the booking contract (models.enums)


class ReferenceRateName(StrEnum):
    ecb_mro = "ecb_mro"  # ECB main refinancing operations
    de_basiszins = "de_basiszins"  # Deutsche Bundesbank, BGB § 247
    boe_base = "boe_base"  # Bank of England Bank Rate


@dataclass(frozen=True)
class PresetRule:
    reference: ReferenceRateName | None
    margin_bp: int
    consumers: bool  # may it be charged to a consumer?
    fixed_rate: bool  # True: the reference rate of the first day applies to the whole delay (UK)
    compensation_currency: str | None


RULES: dict[Preset, PresetRule] = {
    Preset.eu_b2b: PresetRule(ReferenceRateName.ecb_mro, 800, False, False, "EUR"),
    Preset.de_b2b: PresetRule(ReferenceRateName.de_basiszins, 900, False, False, "EUR"),
    Preset.de_consumer: PresetRule(ReferenceRateName.de_basiszins, 500, True, False, None),
    Preset.fr_b2b: PresetRule(ReferenceRateName.ecb_mro, 1000, False, False, "EUR"),
    Preset.uk_b2b: PresetRule(ReferenceRateName.boe_base, 800, False, True, "GBP"),
    Preset.contractual: PresetRule(None, 0, True, True, None),
}


class InterestExcluded(ValueError):
    """The preset does not apply to this invoice (e.g. a statutory B2B preset and a consumer)."""


class MissingReferenceRate(LookupError):
    def __init__(self, rate: str, day: date) -> None:
        super().__init__(f"no {rate} reference rate covers {day.isoformat()}: add it (billflow interest rates set)")
        self.rate = rate
        self.day = day


@dataclass(frozen=True)
class RatePeriod:
    """A reference rate valid from `valid_from` to `valid_to` (inclusive; None: open-ended)."""

    valid_from: date
    valid_to: date | None
    rate_bp: int

    def covers(self, day: date) -> bool:
        return self.valid_from <= day and (self.valid_to is None or day <= self.valid_to)


@dataclass(frozen=True)
class Settlement:
    """Money received on `on` (a payment reduces the balance from the next day; a refund raises it)."""

    on: date
    amount_minor: int


@dataclass(frozen=True)
class Segment:
    first_day: date
    last_day: date
    principal_minor: int
    rate_bp: int  # annual, reference + margin

    @property
    def days(self) -> int:
        return (self.last_day - self.first_day).days + 1

    @property
    def numerator(self) -> int:
        """Interest x 3,650,000 in minor units: exact, summed before the one rounding."""
        return self.principal_minor * self.rate_bp * self.days


@dataclass(frozen=True)
class InterestQuote:
    preset: Preset
    currency: str
    due_date: date
    until: date
    interest_minor: int
    compensation_minor: int
    segments: list[Segment] = field(default_factory=list)

    @property
    def total_minor(self) -> int:
        return self.interest_minor + self.compensation_minor


def compensation_minor(preset: Preset, *, principal_minor: int, currency: str, agreed_fee_minor: int = 0) -> int:
    """The fixed compensation for recovery costs, once per invoice (0 where the preset has none)."""
    rule = RULES[preset]
    if preset is Preset.contractual:
        return agreed_fee_minor
    if rule.compensation_currency is None or currency != rule.compensation_currency:
        return 0  # fixed in EUR / GBP by the law: not converted here
    if preset is Preset.uk_b2b:
        if principal_minor < 1_000_00:
            return 40_00
        return 70_00 if principal_minor < 10_000_00 else 100_00
    return 40_00


def _from(segment: Segment, day: date) -> Segment:
    if segment.first_day >= day:
        return segment
    return Segment(day, segment.last_day, segment.principal_minor, segment.rate_bp)


def _rate_on(day: date, periods: list[RatePeriod], name: str) -> int:
    for period in periods:
        if period.covers(day):
            return period.rate_bp
    raise MissingReferenceRate(name, day)


def quote_interest(
    preset: Preset,
    *,
    principal_minor: int,
    currency: str,
    due_date: date,
    until: date,
    settlements: list[Settlement] | None = None,
    rates: list[RatePeriod] | None = None,
    consumer: bool = False,
    contractual_rate_bp: int | None = None,
    agreed_fee_minor: int = 0,
    accrue_from: date | None = None,
    with_compensation: bool = True,
) -> InterestQuote:
    """Interest on `principal_minor` due on `due_date`, accrued up to and including `until` (the payment day,
    or today), with `settlements` (payments, part payments, refunds) changing the balance on their dates.

    `accrue_from` (default: the day after the due date) starts counting later, after an interest invoice already
    covered the days before; `with_compensation` False leaves out the fixed fee (owed once per invoice)."""
    rule = RULES[preset]
    if consumer and not rule.consumers:
        raise InterestExcluded(f"{preset.value} does not apply to consumers")
    if preset is Preset.contractual and (contractual_rate_bp is None or contractual_rate_bp < 0):
        raise ValueError("contractual_rate_bp is required for the contractual preset")
    changes: dict[date, int] = {}
    balance = principal_minor
    for s in settlements or []:
        if s.on <= due_date:
            balance -= s.amount_minor  # paid on time: never interest-bearing
        else:
            changes[s.on] = changes.get(s.on, 0) + s.amount_minor
    fixed_rate: int | None = None
    if rule.reference is None:
        fixed_rate = contractual_rate_bp
    elif rule.fixed_rate:
        fixed_rate = _rate_on(due_date + timedelta(days=1), rates or [], rule.reference.value) + rule.margin_bp
    segments: list[Segment] = []
    first_day = due_date + timedelta(days=1)
    day = first_day
    while day <= until and balance > 0:
        if fixed_rate is not None:
            rate = fixed_rate
        else:
            assert rule.reference is not None
            rate = _rate_on(day, rates or [], rule.reference.value) + rule.margin_bp
        rate = max(rate, 0)
        last = segments[-1] if segments else None
        if last is not None and last.principal_minor == balance and last.rate_bp == rate:
            segments[-1] = Segment(last.first_day, day, balance, rate)
        else:
            segments.append(Segment(day, day, balance, rate))
        balance -= changes.get(day, 0)  # money received that day stops interest from the next day
        day += timedelta(days=1)
    if accrue_from is not None:  # days already invoiced: counted for the balance above, not charged again
        segments = [_from(s, accrue_from) for s in segments if s.last_day >= accrue_from]
    numerator = sum(s.numerator for s in segments)
    denominator = _BP * DAYS_PER_YEAR
    interest = (2 * numerator + denominator) // (2 * denominator)  # half up, exact
    # Compensation is owed once the invoice was paid late at all (a day with a balance after the due date).
    fee = compensation_minor(
        preset, principal_minor=principal_minor, currency=currency, agreed_fee_minor=agreed_fee_minor
    )
    return InterestQuote(
        preset=preset,
        currency=currency,
        due_date=due_date,
        until=until,
        interest_minor=interest,
        compensation_minor=fee if segments and with_compensation else 0,
        segments=segments,
    )
