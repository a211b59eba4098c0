"""Bad input is rejected by the pydantic contracts before any activity runs, naming the field."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from models.workflow_io import BookingIn, ExtendDueDate, LineIn, PaymentReceived
from tests.factories import make_booking, make_client


def field_errors(err: pytest.ExceptionInfo[ValidationError]) -> set[tuple[str | int, ...]]:
    return {tuple(e["loc"]) for e in err.value.errors()}


def test_unknown_currency_is_rejected() -> None:
    with pytest.raises(ValidationError) as err:
        make_booking(currency="ABC")
    assert field_errors(err) == {("currency",)}


def test_unknown_time_zone_is_rejected() -> None:
    with pytest.raises(ValidationError) as err:
        make_client(timezone="Mars/Olympus_Mons")
    assert field_errors(err) == {("timezone",)}


def test_negative_unit_price_is_rejected() -> None:
    with pytest.raises(ValidationError) as err:
        LineIn(description="Refund?", unit_price_minor=-100)
    assert field_errors(err) == {("unit_price_minor",)}


@pytest.mark.parametrize("amount", [0, -500])
def test_payment_amount_must_be_positive(amount: int) -> None:
    with pytest.raises(ValidationError) as err:
        PaymentReceived(
            provider="local", provider_reference="r", amount_minor=amount, currency="GBP", received_at=datetime.now(UTC)
        )
    assert field_errors(err) == {("amount_minor",)}


def test_payment_time_must_be_timezone_aware() -> None:
    with pytest.raises(ValidationError) as err:
        PaymentReceived(
            provider="local", provider_reference="r", amount_minor=1, currency="GBP", received_at=datetime(2026, 1, 1)
        )
    assert field_errors(err) == {("received_at",)}


def test_booking_without_lines_is_rejected() -> None:
    with pytest.raises(ValidationError) as err:
        make_booking(lines=[])
    assert field_errors(err) == {("lines",)}


def test_payment_terms_out_of_range_are_rejected() -> None:
    with pytest.raises(ValidationError) as err:
        make_booking(payment_terms=timedelta(days=-1))
    assert field_errors(err) == {("payment_terms",)}


def test_booking_id_with_unsafe_characters_is_rejected() -> None:
    with pytest.raises(ValidationError) as err:
        make_booking(booking_id="a b/../c")
    assert field_errors(err) == {("booking_id",)}


def test_extension_needs_exactly_one_of_date_or_duration() -> None:
    with pytest.raises(ValidationError):
        ExtendDueDate()
    with pytest.raises(ValidationError):
        ExtendDueDate(due_date=datetime(2026, 1, 1).date(), extend_by=timedelta(days=1))


def test_a_valid_booking_round_trips_through_json() -> None:
    booking = make_booking()
    assert BookingIn.model_validate_json(booking.model_dump_json()) == booking
