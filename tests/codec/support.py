"""Looking into raw Temporal protos: every Payload inside a message, and whether billflow encrypted it."""

from __future__ import annotations

from collections.abc import Iterator

from google.protobuf.message import Message
from temporalio.api.common.v1 import Payload, SearchAttributes
from temporalio.api.history.v1 import HistoryEvent, MarkerRecordedEventAttributes

from billflow.codec import ENCODING
from models.workflow_io import BookingIn, ClientIn, LineIn
from tests.factories import make_booking

# Personal data that must never reach Temporal in clear: distinctive, so a byte search cannot match by chance.
CLIENT_NAME = "Rosalind Quintessa-Franklin"
CLIENT_EMAIL = "rosalind.quintessa@example.org"
LINE_DESCRIPTION = "Confidential retainer: merger due diligence"
TIMEZONE = "America/Argentina/Ushuaia"
PERSONAL = (CLIENT_NAME, CLIENT_EMAIL, LINE_DESCRIPTION, TIMEZONE)


def personal_booking(**overrides: object) -> BookingIn:
    client = ClientIn(external_id="client-pii", name=CLIENT_NAME, email=CLIENT_EMAIL, timezone=TIMEZONE)
    lines = [LineIn(description=LINE_DESCRIPTION, unit_price_minor=50_000, tax_rate_bp=2000)]
    return make_booking(client=client, lines=lines, **overrides)


def payloads_in(message: Message, *, skip_search_attributes: bool = True) -> Iterator[Payload]:
    """Every Payload nested anywhere in `message` (search attributes are never encoded: skipped by default)."""
    if isinstance(message, Payload):
        yield message
        return
    if skip_search_attributes and isinstance(message, SearchAttributes):
        return
    for field, value in message.ListFields():
        if field.message_type is None:
            continue
        if field.message_type.GetOptions().map_entry:
            values = value.values() if field.message_type.fields_by_name["value"].message_type else []
        elif not isinstance(value, Message):  # a repeated field
            values = value
        else:
            values = [value]
        for item in values:
            yield from payloads_in(item, skip_search_attributes=skip_search_attributes)


def leaked(message: Message) -> list[str]:
    """The personal strings found anywhere in the message's bytes."""
    raw = message.SerializeToString()
    return [text for text in PERSONAL if text.encode() in raw]


def unencrypted(message: Message) -> list[Payload]:
    """Payloads not encrypted by billflow, except the SDK's own bookkeeping, written by the Temporal core, never
    by a codec: a local-activity marker's "data" entry (sequence number, attempt, activity type and times) and a
    patch marker's "patch-data" (the patch's id)."""
    exempt = set()
    for marker in _markers(message):
        for key in ("data", "patch-data"):
            if key in marker.details:
                exempt |= {p.SerializeToString() for p in marker.details[key].payloads}
    clear = [p for p in payloads_in(message) if p.metadata.get("encoding") != ENCODING]
    return [p for p in clear if p.SerializeToString() not in exempt]


def _markers(message: Message) -> Iterator[MarkerRecordedEventAttributes]:
    if isinstance(message, HistoryEvent) and message.HasField("marker_recorded_event_attributes"):
        yield message.marker_recorded_event_attributes
