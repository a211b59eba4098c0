"""Totals cannot overflow (issue 11, item 3): line and invoice totals are bounded in the input models (a 422
naming the field), and a data error the database raises anyway is non-retryable and ends visibly."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from pydantic import ValidationError
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.invoices import InvoiceActivities
from billflow.db import Database
from billflow.repositories import clients as clients_repo
from billflow.repositories import timeline as timeline_repo
from models.booking_events import ConfirmedBooking
from models.money import MAX_TOTAL_MINOR
from models.subscription_io import SubscriptionIn
from models.workflow_io import LineIn, RecordInvoiceInput
from tests.factories import make_booking, make_client

HUGE = {"description": "Everything", "quantity": 1_000_000, "unit_price_minor": 10**13}


def locations(err: pytest.ExceptionInfo[ValidationError]) -> set[tuple[str | int, ...]]:
    return {tuple(e["loc"]) for e in err.value.errors()}


def test_a_line_total_beyond_the_maximum_is_refused_naming_the_line() -> None:
    with pytest.raises(ValidationError) as err:
        make_booking(lines=[{"description": "ok", "unit_price_minor": 100}, HUGE])
    assert locations(err) == {("lines", 1)}
    assert "line total" in str(err.value)


def test_tax_counts_towards_the_line_total() -> None:
    LineIn(description="at the cap", unit_price_minor=MAX_TOTAL_MINOR)
    with pytest.raises(ValidationError):
        LineIn(description="over with tax", unit_price_minor=MAX_TOTAL_MINOR, tax_rate_bp=1)


def test_an_invoice_total_beyond_the_maximum_is_refused_naming_the_lines() -> None:
    half = LineIn(description="half", unit_price_minor=MAX_TOTAL_MINOR // 2 + 1)
    with pytest.raises(ValidationError) as err:
        make_booking(lines=[half, half])
    assert locations(err) == {("lines",)}
    assert "invoice total" in str(err.value)


def test_an_event_whose_services_overflow_is_refused_naming_the_service() -> None:
    client = make_client().model_dump()
    with pytest.raises(ValidationError) as err:
        ConfirmedBooking.model_validate({"booking_id": "b", "client": client, "services": [HUGE], "currency": "EUR"})
    assert locations(err) == {("services", 0)}


def test_an_event_whose_booking_tax_overflows_the_total_is_refused() -> None:
    client = make_client().model_dump()
    line = {"description": "at the cap", "unit_price_minor": MAX_TOTAL_MINOR}
    with pytest.raises(ValidationError) as err:
        ConfirmedBooking.model_validate(
            {"booking_id": "b", "client": client, "services": [line], "currency": "EUR", "tax_rate_bp": 2000}
        )
    assert locations(err) == {("services",)}


def test_a_subscription_whose_lines_overflow_is_refused() -> None:
    with pytest.raises(ValidationError) as err:
        SubscriptionIn.model_validate(
            {
                "client": make_client().model_dump(),
                "lines": [HUGE],
                "currency": "EUR",
                "interval": {"kind": "monthly"},
                "start_date": "2026-11-01",
            }
        )
    assert ("lines", 0) in locations(err)


# --- a data error in an activity ends visibly -----------------------------------------------------


async def test_a_data_error_is_non_retryable_logged_and_on_the_timeline(
    db: Database, caplog: pytest.LogCaptureFixture
) -> None:
    # Bypasses the model bounds the way a run started by older code would: the database refuses the total.
    data = make_booking(issued_at=datetime.now(UTC))
    huge = LineIn.model_construct(description="x", quantity=Decimal(1_000_000), unit_price_minor=10**13, tax_rate_bp=0)
    data = data.model_copy(update={"lines": [huge]})
    caplog.set_level(logging.ERROR)
    with pytest.raises(ApplicationError) as raised:
        await ActivityEnvironment().run(
            InvoiceActivities(db).record_invoice, RecordInvoiceInput(booking=data, workflow_id=data.workflow_id)
        )
    assert raised.value.non_retryable and raised.value.type == "DataError"
    assert "NumericValueOutOfRange" in str(raised.value)
    assert any(data.workflow_id in r.getMessage() for r in caplog.records)
    async with db.session() as session:
        client = await clients_repo.get_client(session, external_id=data.client.external_id, source="staff")
        assert client is not None and client.id is not None
        events = await timeline_repo.list_events(session, client_id=client.id)
    failed = [e for e in events if e.kind == "invoice.failed"]
    assert len(failed) == 1 and "NumericValueOutOfRange" in failed[0].message
