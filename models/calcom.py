"""Cal.com webhook deliveries as Cal.com sends them, and billflow's answer to each.

Shaped after Cal.com's documented payload (docs/developing/guides/automation/webhooks.mdx): an envelope
`{triggerEvent, createdAt, payload}` whose payload describes the booking. Cal.com adds fields over time, so every
model ignores what it does not know; only what billflow acts on is declared.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

# Cal.com booking uids are short nanoid/uuid strings; they become part of workflow ids, so keep them plain.
UID_PATTERN = r"^[A-Za-z0-9._:-]{1,120}$"


class _CalModel(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="ignore")


class CalTrigger(StrEnum):
    """The triggers billflow acts on; any other `triggerEvent` is answered 200 and ignored."""

    booking_created = "BOOKING_CREATED"
    booking_requested = "BOOKING_REQUESTED"
    booking_paid = "BOOKING_PAID"
    booking_rescheduled = "BOOKING_RESCHEDULED"
    booking_cancelled = "BOOKING_CANCELLED"
    booking_rejected = "BOOKING_REJECTED"


class CalPerson(_CalModel):
    """An organizer or attendee (Cal.com's Person structure)."""

    name: str = ""
    email: str | None = None
    time_zone: str | None = None


class CalBooking(_CalModel):
    """The `payload` of a booking trigger."""

    uid: str = Field(pattern=UID_PATTERN)
    type: str | None = Field(default=None, description="the event type slug")
    title: str | None = None
    event_title: str | None = None
    start_time: AwareDatetime | None = None
    end_time: AwareDatetime | None = None
    organizer: CalPerson | None = None
    attendees: list[CalPerson] = Field(default_factory=list)
    price: int | None = Field(default=None, ge=0, le=10**13, description="minor units")
    currency: str | None = None
    length: int | None = None
    event_type_id: int | None = None
    status: str | None = None
    reschedule_uid: str | None = Field(default=None, pattern=UID_PATTERN)
    cancellation_reason: str | None = None
    rejection_reason: str | None = None
    payment_id: int | str | None = None
    metadata: dict[str, Any] | None = None


class CalWebhook(_CalModel):
    """The envelope of every delivery; `payload` is read as a CalBooking only for the triggers billflow handles."""

    trigger_event: str = Field(min_length=1, max_length=64)
    created_at: AwareDatetime | None = None
    payload: dict[str, Any] = Field(default_factory=dict)


class CalOutcome(StrEnum):
    invoice_started = "invoice_started"
    invoice_exists = "invoice_exists"
    paid = "paid"
    payment_sent = "payment_sent"  # signalled to the workflow, not yet applied when the answer was given
    already_paid = "already_paid"
    rescheduled = "rescheduled"
    voided = "voided"
    refund_decision_flagged = "refund_decision_flagged"
    already_closed = "already_closed"
    superseded = "superseded"
    no_price = "no_price"
    no_invoice = "no_invoice"
    awaiting_confirmation = "awaiting_confirmation"
    ignored = "ignored"


class CalDeliveryResult(BaseModel):
    """billflow's answer to one delivery; a repeated (booking uid, trigger) gets exactly this again."""

    trigger: str
    booking_uid: str | None = None
    outcome: CalOutcome
    workflow_id: str | None = None
    invoice_number: str | None = None
    invoice_status: str | None = None
    detail: str | None = None
