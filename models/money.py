"""Money rules: integer minor units with an ISO 4217 currency, validated against CLDR (babel)."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from functools import cache
from typing import Annotated

from babel.numbers import format_currency, get_currency_precision, list_currencies
from pydantic import AfterValidator, Field

# A cap well above any real invoice; keeps sums far inside BIGINT.
MAX_MINOR = 10**13
# The largest line total and invoice total (tax included): 12 digits of minor units, the widest amount Stripe
# takes in any currency (most take 8 per charge: larger totals are paid otherwise), about 10 billion in a
# 2-decimal currency. BIGINT (9.2 x 10^18) still sums 9 million invoices at the cap: no total, balance or
# report sum can overflow.
MAX_TOTAL_MINOR = 999_999_999_999


@cache
def _currencies() -> frozenset[str]:
    """Read when a currency is first checked: loading CLDR's list costs a CLI command that only prints money
    about 40 ms (issue 11, item 15)."""
    return frozenset(list_currencies())


def _check_currency(code: str) -> str:
    code = code.upper()
    if code not in _currencies():
        raise ValueError(f"unknown ISO 4217 currency code {code!r}")
    return code


CurrencyCode = Annotated[str, Field(min_length=3, max_length=3), AfterValidator(_check_currency)]
MinorAmount = Annotated[int, Field(ge=0, le=MAX_MINOR)]


def round_minor(value: Decimal) -> int:
    """Commercial rounding (half up) to a whole minor unit."""
    return int(value.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def price_amounts(quantity: Decimal, unit_price_minor: int, tax_rate_bp: int) -> tuple[int, int]:
    """(subtotal, tax): quantity x unit price, then tax on the rounded subtotal, each rounded half up."""
    subtotal = round_minor(quantity * unit_price_minor)
    return subtotal, round_minor(Decimal(subtotal) * tax_rate_bp / 10_000)


def check_total(total_minor: int, what: str) -> None:
    if total_minor > MAX_TOTAL_MINOR:
        raise ValueError(f"{what} {total_minor} exceeds the maximum of {MAX_TOTAL_MINOR} minor units")


def format_money(amount_minor: int, currency: str, locale: str = "en_US") -> str:
    """'$1,234.50' style, with the currency's own number of decimals (JPY has none)."""
    digits = get_currency_precision(currency)
    return format_currency(Decimal(amount_minor).scaleb(-digits), currency, locale=locale)
