"""Money rules: integer minor units, ISO 4217 codes, half-up rounding, the currency's own decimals."""

from __future__ import annotations

from decimal import Decimal

import pytest
from pydantic import BaseModel, ValidationError

from billflow.services.invoicing import price_line
from models.money import MAX_MINOR, CurrencyCode, MinorAmount, format_money, round_minor
from models.workflow_io import LineIn


class Priced(BaseModel):
    currency: CurrencyCode
    amount: MinorAmount


@pytest.mark.parametrize("code", ["GBP", "usd", "JPY", "EUR"])
def test_known_currency_codes_are_accepted_in_upper_case(code: str) -> None:
    assert Priced(currency=code, amount=1).currency == code.upper()


@pytest.mark.parametrize("code", ["XYZ", "EU", "EURO", ""])
def test_unknown_currency_code_is_rejected(code: str) -> None:
    with pytest.raises(ValidationError, match="currency"):
        Priced(currency=code, amount=1)


@pytest.mark.parametrize("amount", [-1, MAX_MINOR + 1])
def test_amount_outside_range_is_rejected(amount: int) -> None:
    with pytest.raises(ValidationError, match="amount"):
        Priced(currency="GBP", amount=amount)


def test_amount_must_be_a_whole_number_of_minor_units() -> None:
    with pytest.raises(ValidationError):
        Priced(currency="GBP", amount=1.5)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("value", "expected"),
    [(Decimal("2.5"), 3), (Decimal("2.4999"), 2), (Decimal("3.5"), 4), (Decimal("0.5"), 1), (Decimal(7), 7)],
)
def test_round_minor_is_half_up(value: Decimal, expected: int) -> None:
    assert round_minor(value) == expected


@pytest.mark.parametrize(
    ("amount", "currency", "expected"),
    [(123_450, "USD", "$1,234.50"), (1200, "JPY", "¥1,200"), (5, "GBP", "£0.05"), (1_000, "BHD", "BHD1.000")],
)
def test_format_money_uses_the_currency_decimals(amount: int, currency: str, expected: str) -> None:
    assert format_money(amount, currency) == expected


def test_line_tax_is_computed_on_the_rounded_subtotal() -> None:
    # 3 x 33.33 = 99.99; 20 % tax of 99.99 = 19.998 -> 20.00
    priced = price_line(LineIn(description="Sessions", quantity=Decimal(3), unit_price_minor=3_333, tax_rate_bp=2000))
    assert (priced.subtotal_minor, priced.tax_minor, priced.total_minor) == (9_999, 2_000, 11_999)


def test_fractional_quantity_rounds_half_up() -> None:
    # 1.5 hours x 0.01 = 0.015 -> 0.02
    priced = price_line(LineIn(description="Call", quantity=Decimal("1.5"), unit_price_minor=1))
    assert priced.subtotal_minor == 2
