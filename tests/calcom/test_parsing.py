"""Reading deliveries: Cal.com's signature scheme, and no JSON body makes parsing fail other than with a 422."""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from billflow.services.calcom import PayloadError, SignatureError, parse_delivery, sign, verify_signature
from models.calcom import CalTrigger
from tests.calcom.payloads import delivery, documented_example, raw


def test_signature_is_hex_hmac_sha256_of_the_raw_body() -> None:
    body = raw(documented_example())
    assert sign("s3cret", body) == hmac.new(b"s3cret", body, hashlib.sha256).hexdigest()
    verify_signature("s3cret", body, sign("s3cret", body))
    verify_signature("s3cret", body, "sha256=" + sign("s3cret", body).upper())
    for wrong in (None, "", sign("other", body), sign("s3cret", body + b" ")):
        with pytest.raises(SignatureError):
            verify_signature("s3cret", body, wrong)


def test_documented_example_reads_as_an_accepted_booking() -> None:
    parsed = parse_delivery(json.dumps(documented_example(time_zone="Europe/Paris")).encode())
    assert parsed.trigger is CalTrigger.booking_created and parsed.booking is not None
    booking = parsed.booking
    assert (booking.type, booking.event_type_id, booking.status, booking.length) == ("60min", 7, "ACCEPTED", 60)
    assert booking.attendees[0].time_zone == "Europe/Paris"
    assert booking.organizer is not None and booking.organizer.time_zone == "Asia/Kolkata"


def test_nul_in_a_field_is_refused_naming_it() -> None:
    body = documented_example()
    body["payload"]["title"] = "a\x00b"
    with pytest.raises(PayloadError, match=r"payload\.title"):
        parse_delivery(raw(body))


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4),
    max_leaves=20,
)
FIELDS = ["uid", "startTime", "attendees", "price", "currency", "status", "rescheduleUid", "eventTypeId", "type"]


@settings(max_examples=300, deadline=None)
@given(
    trigger=st.sampled_from([t.value for t in CalTrigger] + ["MEETING_ENDED"]),
    field=st.sampled_from(FIELDS),
    value=json_values,
)
def test_any_mutation_of_the_example_parses_or_is_a_payload_error(trigger: str, field: str, value: Any) -> None:
    body = delivery(documented_example(), trigger, **{field: value})
    try:
        parse_delivery(raw(body))
    except PayloadError:
        pass


@settings(max_examples=200, deadline=None)
@given(body=st.binary(max_size=200) | json_values.map(lambda v: json.dumps(v).encode()))
def test_any_body_parses_or_is_a_payload_error(body: bytes) -> None:
    try:
        parse_delivery(body)
    except PayloadError:
        pass
