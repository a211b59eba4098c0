"""Signed but malformed Cal.com deliveries: a 4xx naming the field (never a 5xx), and nothing recorded."""

from __future__ import annotations

from typing import Any

import httpx

from billflow.db import Database
from tests.calcom.checks import invoices_of
from tests.calcom.payloads import delivery, documented_example, post


def _cases() -> dict[str, dict[str, Any]]:
    base = documented_example()
    return {
        "payload a list": {**base, "payload": [1, 2]},
        "startTime not a time": delivery(base, "BOOKING_CREATED", startTime="abc"),
        "startTime beyond datetime": delivery(base, "BOOKING_CREATED", startTime="99999-01-01T00:00:00Z"),
        "price not a number": delivery(base, "BOOKING_CREATED", price="lots"),
        "price beyond bigint": delivery(base, "BOOKING_CREATED", price=10**30),
        "attendees an object": delivery(base, "BOOKING_CREATED", attendees={"email": "x@example.com"}),
        "attendee time zone a number": delivery(
            base, "BOOKING_CREATED", attendees=[{**base["payload"]["attendees"][0], "timeZone": 5}]
        ),
        "uid an object": delivery(base, "BOOKING_CANCELLED", uid={"$ne": ""}),
        "createdAt a word": {**base, "createdAt": "yesterday"},
        "triggerEvent a list": {**base, "triggerEvent": ["BOOKING_CREATED"]},
    }


async def test_signed_malformed_deliveries_are_refused_and_record_nothing(
    http: httpx.AsyncClient, db: Database, calcom: tuple[str, str]
) -> None:
    name, secret = calcom
    for label, body in _cases().items():
        response = await post(http, name, secret, body)
        assert 400 <= response.status_code < 500, (label, response.status_code, response.text[:300])
    assert await invoices_of(db, name) == []
