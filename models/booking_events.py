"""Booking events: the versioned schema integrations post. Each is stored once per (integration, event id) with
the answer it got in the inbox (models/inbox.py)."""

from __future__ import annotations

from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

from models.enums import TaxCategory
from models.money import CurrencyCode, MinorAmount, check_total, price_amounts
from models.subscription_io import SubscriptionIn
from models.workflow_io import BusinessKey, ClientIn, DepositIn, LineIn

# --- the event schema (version 1), as integrations post it ------------------------------------------


class EventService(BaseModel):
    """One booked service: becomes one invoice line."""

    description: str = Field(min_length=1, max_length=500, examples=["Deep-tissue massage, 60 min"])
    quantity: Decimal = Field(default=Decimal(1), gt=0, le=1_000_000, decimal_places=3)
    unit_price_minor: MinorAmount = Field(examples=[9000])
    tax_rate_bp: int | None = Field(
        default=None, ge=0, le=10_000, description="per-line tax rate in basis points; defaults to the booking's"
    )
    tax_category: TaxCategory | None = Field(
        default=None, description="standard, zero, exempt (with exemption_reason) or reverse_charge"
    )
    exemption_reason: str | None = Field(default=None, min_length=1, max_length=300)

    @model_validator(mode="after")
    def _total_in_range(self) -> EventService:
        check_total(self.total_minor(0), "line total")
        return self

    def total_minor(self, booking_tax_rate_bp: int) -> int:
        rate = booking_tax_rate_bp if self.tax_rate_bp is None else self.tax_rate_bp
        return sum(price_amounts(self.quantity, self.unit_price_minor, rate))


class ConfirmedBooking(BaseModel):
    booking_id: BusinessKey
    client: ClientIn
    # Before `services`: the services' totals are checked with it.
    tax_rate_bp: int = Field(default=0, ge=0, le=10_000, description="basis points: 2000 = 20 %")
    services: list[EventService] = Field(min_length=1, max_length=200)
    currency: CurrencyCode | None = Field(default=None, description="omit: the workspace's default currency")
    payment_terms_days: int | None = Field(default=None, ge=0, le=366, description="omit: the workspace's terms")
    starts_at: AwareDatetime | None = None
    memo: str | None = Field(default=None, max_length=2000)
    deposit: DepositIn | None = Field(default=None, description="invoice part of it in advance (issue 14)")

    def lines(self) -> list[LineIn]:
        return [
            LineIn(
                description=s.description,
                quantity=s.quantity,
                unit_price_minor=s.unit_price_minor,
                tax_rate_bp=self.tax_rate_bp if s.tax_rate_bp is None else s.tax_rate_bp,
                tax_category=s.tax_category,
                exemption_reason=s.exemption_reason,
            )
            for s in self.services
        ]

    @model_validator(mode="after")
    def _makes_a_valid_document(self) -> ConfirmedBooking:
        """Refused here (422 naming the field) rather than when the invoice is issued."""
        for index, line in enumerate(self.lines()):
            if line.category is TaxCategory.reverse_charge and not self.client.vat_id:
                raise ValueError(f"client.vat_id: services[{index}] is reverse charge, which needs the buyer's VAT id")
        return self

    @field_validator("services")
    @classmethod
    def _total_in_range(cls, services: list[EventService], info: ValidationInfo) -> list[EventService]:
        rate = info.data.get("tax_rate_bp", 0)  # absent when it failed its own check
        check_total(sum(s.total_minor(rate) for s in services), "invoice total")
        return services


class CancelledBooking(BaseModel):
    booking_id: BusinessKey
    reason: str = Field(default="booking cancelled", min_length=1, max_length=500)


class RescheduledBooking(BaseModel):
    booking_id: BusinessKey
    starts_at: AwareDatetime
    previous_starts_at: AwareDatetime | None = None


def reject_nul(value: Any, path: str = "") -> None:
    """PostgreSQL text cannot hold NUL: refuse it up front (422 naming the field) instead of failing later."""
    if isinstance(value, str):
        if "\x00" in value:
            raise ValueError(f"{path or 'value'}: NUL characters are not allowed")
    elif isinstance(value, dict):
        for key, item in value.items():
            reject_nul(item, f"{path}.{key}" if path else str(key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            reject_nul(item, f"{path}[{index}]")


class _EventBase(BaseModel):
    @model_validator(mode="before")
    @classmethod
    def _no_nul(cls, data: Any) -> Any:
        reject_nul(data)
        return data

    id: BusinessKey = Field(description="the integration's own event id: a repeated id is answered, not redone")
    version: Literal[1] = Field(default=1, description="schema version of this event type")
    occurred_at: AwareDatetime | None = None


class BookingConfirmedEvent(_EventBase):
    type: Literal["booking.confirmed"]
    data: ConfirmedBooking


class BookingCancelledEvent(_EventBase):
    type: Literal["booking.cancelled"]
    data: CancelledBooking


class BookingRescheduledEvent(_EventBase):
    type: Literal["booking.rescheduled"]
    data: RescheduledBooking


class NewSubscription(SubscriptionIn):
    """A subscription sold through a booking system; its invoices follow its billing schedule."""

    @property
    def booking_id(self) -> str:
        return self.subscription_id or ""


class SubscriptionCreatedEvent(_EventBase):
    """Starts recurring billing. Without `data.subscription_id` the id is `{integration}-{event id}`, so a
    repeated event never creates a second subscription."""

    type: Literal["subscription.created"]
    data: NewSubscription


BookingEventIn = Annotated[
    BookingConfirmedEvent | BookingCancelledEvent | BookingRescheduledEvent | SubscriptionCreatedEvent,
    Field(discriminator="type"),
]


class EventOutcome(StrEnum):
    invoice_started = "invoice_started"
    void_requested = "void_requested"
    refund_decision_flagged = "refund_decision_flagged"
    already_closed = "already_closed"
    rescheduled_noted = "rescheduled_noted"
    no_invoice = "no_invoice"
    subscription_started = "subscription_started"


class EventAccepted(BaseModel):
    """The answer to an event; a repeated delivery of the same event id gets exactly this again."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "event_id": "evt_0001",
                    "type": "booking.confirmed",
                    "booking_id": "bk-1042",
                    "outcome": "invoice_started",
                    "workflow_id": "invoice-calcom-bk-1042",
                    "invoice_number": "INV-2026-000042",
                    "invoice_status": "open",
                }
            ]
        }
    )

    event_id: str
    type: str
    booking_id: str
    outcome: EventOutcome
    workflow_id: str | None = None
    invoice_number: str | None = Field(
        default=None, description="null when the workflow had not issued the invoice within a few seconds"
    )
    invoice_status: str | None = None
