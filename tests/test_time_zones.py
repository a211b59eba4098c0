"""IANA zone names only (issue 11, item 9): names the server's tz database happens to hold but that are no zone
(`localtime`, `posixrules`, `Factory`, paths) are refused wherever a time zone is accepted."""

from __future__ import annotations

import json
from datetime import date

import pytest
from pydantic import ValidationError

from billflow.services import calcom
from billflow.services.reports import cash_collected
from models.subscription_io import SubscriptionIn
from models.time_zones import is_iana_zone
from tests.calcom.payloads import documented_example
from tests.factories import make_client

NOT_ZONES = ["localtime", "posixrules", "Factory", "/etc/localtime", "posix/Europe/London", "right/UTC", "../UTC", ""]


@pytest.mark.parametrize("name", NOT_ZONES)
def test_non_zones_are_refused(name: str) -> None:
    assert not is_iana_zone(name)


@pytest.mark.parametrize("name", ["UTC", "Etc/UTC", "Europe/London", "Asia/Tokyo", "Pacific/Kiritimati"])
def test_iana_zones_are_accepted(name: str) -> None:
    assert is_iana_zone(name)


@pytest.mark.parametrize("name", NOT_ZONES)
def test_client_time_zone_refuses_non_zones(name: str) -> None:
    with pytest.raises(ValidationError) as err:
        make_client(timezone=name)
    assert {tuple(e["loc"]) for e in err.value.errors()} == {("timezone",)}


def test_subscription_time_zone_refuses_localtime() -> None:
    with pytest.raises(ValidationError) as err:
        SubscriptionIn.model_validate(
            {
                "client": {"external_id": "c-1", "name": "Ada", "email": "ada@example.com", "timezone": "localtime"},
                "lines": [{"description": "Retainer", "unit_price_minor": 1000}],
                "currency": "EUR",
                "interval": {"kind": "monthly"},
                "start_date": "2026-11-01",
            }
        )
    assert ("client", "timezone") in {tuple(e["loc"]) for e in err.value.errors()}


def test_calcom_attendee_localtime_falls_back_to_the_organizer_zone() -> None:
    """A Cal.com booking is not lost over a bad zone name: the organizer's IANA zone is used instead."""
    parsed = calcom.parse_delivery(json.dumps(documented_example(time_zone="localtime")).encode())
    assert calcom.client_from(parsed.booking).timezone == "Asia/Kolkata"


async def test_cash_report_refuses_localtime() -> None:
    with pytest.raises(ValueError, match="localtime"):
        await cash_collected(None, grain="day", start=date(2026, 1, 1), end=date(2026, 1, 2), time_zone="localtime")  # type: ignore[arg-type]
