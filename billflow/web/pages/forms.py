"""Parsing what people type into forms (amounts in major units, dates, local times); each raises FieldError
naming the field, which the page shows next to it."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from zoneinfo import ZoneInfo

from babel.numbers import get_currency_precision

from models.money import MAX_MINOR


def form_text(form: object) -> dict[str, str]:
    """A submitted form's text fields, without the CSRF token and without NUL characters (PostgreSQL text
    cannot hold them, and nothing a person types contains one)."""
    items = form.items()  # type: ignore[attr-defined]
    return {k: v.replace("\x00", "") for k, v in items if isinstance(v, str) and k != "csrftoken"}


class FieldError(ValueError):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


def amount_minor(field: str, text: str, currency: str, *, required: bool = True) -> int | None:
    """ "1,234.50" in EUR -> 123450; the currency's own number of decimals (JPY has none)."""
    cleaned = text.strip().replace(",", "").replace(" ", "")
    if not cleaned:
        if required:
            raise FieldError(field, "enter an amount")
        return None
    digits = get_currency_precision(currency)
    try:
        value = Decimal(cleaned)
    except InvalidOperation:
        raise FieldError(field, f"not an amount: {text[:40]!r}") from None
    if not value.is_finite() or value <= 0:
        raise FieldError(field, "the amount must be more than zero")
    if value.adjusted() > 15:  # before quantize, which fails on huge exponents
        raise FieldError(field, "the amount is too large")
    if value != value.quantize(Decimal(1).scaleb(-digits)):
        raise FieldError(field, f"{currency} amounts have at most {digits} decimals")
    minor = int(value.scaleb(digits))
    if minor > MAX_MINOR:
        raise FieldError(field, "the amount is too large")
    return minor


def day(field: str, text: str, *, required: bool = True) -> date | None:
    if not text.strip():
        if required:
            raise FieldError(field, "enter a date")
        return None
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise FieldError(field, "enter a date as YYYY-MM-DD") from None


def local_instant(field: str, text: str, timezone: str) -> datetime | None:
    """A datetime-local value read in the invoice's (client's) time zone."""
    if not text.strip():
        return None
    try:
        naive = datetime.fromisoformat(text.strip())
    except ValueError:
        raise FieldError(field, "enter a date and time") from None
    if naive.tzinfo is not None:
        return naive
    return naive.replace(tzinfo=ZoneInfo(timezone))


def whole_number(field: str, text: str, *, low: int, high: int, required: bool = False) -> int | None:
    if not text.strip():
        if required:
            raise FieldError(field, "enter a number")
        return None
    try:
        value = int(text.strip())
    except ValueError:
        raise FieldError(field, "enter a whole number") from None
    if not low <= value <= high:
        raise FieldError(field, f"enter a number from {low} to {high}")
    return value
