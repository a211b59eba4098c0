"""Pydantic contracts of the invoice workflow: its input, signals, query and activity payloads.

Pure pydantic (no SQLAlchemy), so workflow code can import it. One model in, one out, everywhere, so fields
can be added later without breaking runs in flight.
"""

from __future__ import annotations

import re
import zoneinfo
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Annotated
from uuid import uuid4

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    EmailStr,
    Field,
    computed_field,
    field_validator,
    model_validator,
)

from models.enums import EmailKind, InvoiceStatus
from models.money import CurrencyCode, MinorAmount

# Computed once outside the workflow sandbox; membership is all validation needs.
_TIME_ZONES = frozenset(zoneinfo.available_timezones())


def _check_time_zone(name: str) -> str:
    if name not in _TIME_ZONES:
        raise ValueError(f"unknown IANA time zone {name!r}")
    return name


TimeZoneName = Annotated[str, AfterValidator(_check_time_zone)]
_KEY = re.compile(r"^[A-Za-z0-9._:@-]{1,120}$")
BusinessKey = Annotated[str, Field(pattern=_KEY.pattern)]


def new_action_id() -> str:
    return uuid4().hex


# --- booking in -------------------------------------------------------------------------------------


class ClientIn(BaseModel):
    external_id: BusinessKey
    name: str = Field(min_length=1, max_length=200)
    email: EmailStr
    timezone: TimeZoneName = "UTC"


class LineIn(BaseModel):
    description: str = Field(min_length=1, max_length=500)
    quantity: Decimal = Field(default=Decimal(1), gt=0, le=1_000_000, decimal_places=3)
    unit_price_minor: MinorAmount
    tax_rate_bp: int = Field(default=0, ge=0, le=10_000, description="tax rate in basis points: 2000 = 20 %")


class ReminderStep(BaseModel):
    """One reminder: an offset from the due date (negative = before) and the template it is sent with."""

    offset: timedelta
    template: str = Field(default="reminder", pattern=r"^[a-z_]{1,40}$")


class ReminderPolicy(BaseModel):
    """Steps relative to the due date, sent at `send_hour` local time or, if it is None, at exact offsets."""

    steps: list[ReminderStep] = Field(default_factory=list, max_length=50)
    send_hour: int | None = Field(default=9, ge=0, le=23)

    @model_validator(mode="after")
    def _whole_days_when_calendar(self) -> ReminderPolicy:
        if self.send_hour is not None:
            for step in self.steps:
                if step.offset % timedelta(days=1):
                    raise ValueError("with send_hour set, every step offset must be whole days")
        return self

    @classmethod
    def standard(cls) -> ReminderPolicy:
        """-3d, on the day, +3d, +7d, +14d at 09:00 in the client's time zone."""
        days = [-3, 0, 3, 7, 14]
        return cls(
            steps=[ReminderStep(offset=timedelta(days=d), template="reminder" if d <= 0 else "overdue") for d in days]
        )


class BookingIn(BaseModel):
    """A booking or sale from which one invoice is generated."""

    source: BusinessKey = "manual"
    booking_id: BusinessKey
    client: ClientIn
    lines: list[LineIn] = Field(min_length=1, max_length=200)
    currency: CurrencyCode
    payment_terms: timedelta = Field(default=timedelta(days=14))
    issued_at: AwareDatetime | None = None
    service_date: date | None = None
    memo: str | None = Field(default=None, max_length=2000)
    reminder_policy: ReminderPolicy = Field(default_factory=ReminderPolicy.standard)
    subscription_id: str | None = None
    period_start: date | None = None
    period_end: date | None = None

    @field_validator("payment_terms")
    @classmethod
    def _terms_in_range(cls, value: timedelta) -> timedelta:
        if value < timedelta(0) or value > timedelta(days=366):
            raise ValueError("payment_terms must be between 0 and 366 days")
        return value

    @property
    def source_key(self) -> str:
        return f"booking:{self.source}:{self.booking_id}"

    @property
    def workflow_id(self) -> str:
        """Derived from the booking, so a second start for the same booking finds the first run."""
        return f"invoice-{self.source}-{self.booking_id}"


# --- workflow input, state and query ----------------------------------------------------------------


class ScheduledReminder(BaseModel):
    step: int  # 1-based position in the policy
    template: str
    at: datetime  # UTC instant
    # "2026-12-01 09:00 Europe/London": formatted by the planning activity (no ZoneInfo in workflow code).
    local_label: str | None = None
    sent: bool = False
    skipped: bool = False

    @property
    def done(self) -> bool:
        return self.sent or self.skipped


class IssuedInvoice(BaseModel):
    invoice_id: int
    number: str
    client_id: int
    currency: str
    total_minor: int
    amount_paid_minor: int
    status: InvoiceStatus
    issued_at: datetime
    due_date: date
    due_at: datetime
    timezone: str
    public_token: str


class InvoiceState(BaseModel):
    """What the `status` query returns, and what continue-as-new carries over."""

    invoice_id: int
    number: str
    status: InvoiceStatus
    currency: str
    total_minor: int
    amount_paid_minor: int
    issued_at: datetime
    due_date: date
    due_at: datetime
    timezone: str
    payment_url: str | None = None
    issued_email_sent: bool = False
    reminders: list[ScheduledReminder] = Field(default_factory=list)
    paused: bool = False
    paused_until: datetime | None = None
    escalated: bool = False
    receipt_sent: bool = False
    # The receipt email's idempotency key: a run that reopened after a refund settles again under a new one.
    receipt_key: str = "receipt"
    processed_action_ids: list[str] = Field(default_factory=list)
    last_rejection: str | None = None

    @computed_field  # type: ignore[prop-decorator]
    @property
    def balance_minor(self) -> int:
        return self.total_minor - self.amount_paid_minor

    @computed_field  # type: ignore[prop-decorator]
    @property
    def steps_sent(self) -> int:
        return sum(1 for r in self.reminders if r.sent)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def next_reminder_at(self) -> datetime | None:
        step = self.next_reminder
        return step.at if step else None

    @property
    def next_reminder(self) -> ScheduledReminder | None:
        return next((r for r in self.reminders if not r.done), None)


class InvoiceWorkflowInput(BaseModel):
    booking: BookingIn
    # Set only by continue-as-new: the run picks up exactly where the previous one stopped.
    carried_state: InvoiceState | None = None
    # Continue as new once the history reaches this many events (None: only when the server suggests it).
    max_history_events: int | None = Field(default=None, ge=20)
    # A new run for an invoice that reopened after its run closed (a refund): carried_state is rebuilt from the
    # database (billflow/services/invoice_reopen.py), and reminders missed while it was settled are caught up.
    reopened: bool = False
    client_id: int | None = None  # a reopened run's client, for its ClientId search attribute


class InvoiceOutcome(BaseModel):
    number: str
    status: InvoiceStatus
    amount_paid_minor: int
    reminders_sent: int
    escalated: bool


# --- signals ----------------------------------------------------------------------------------------


class PaymentReceived(BaseModel):
    provider: str = Field(pattern=r"^[a-z_]{1,32}$")
    provider_reference: str = Field(min_length=1, max_length=200)
    amount_minor: int = Field(gt=0, le=10**13)
    currency: CurrencyCode
    received_at: AwareDatetime
    method: str = Field(default="card", max_length=32)


class StaffAction(BaseModel):
    """Every staff signal carries an id chosen by the caller, so a repeated signal is applied once."""

    action_id: str = Field(default_factory=new_action_id, max_length=64)
    actor: str = Field(default="staff", max_length=200)
    note: str | None = Field(default=None, max_length=2000)


class MarkPaid(StaffAction):
    amount_minor: int | None = Field(default=None, gt=0, le=10**13, description="defaults to the balance")
    method: str = Field(default="bank_transfer", max_length=32)


class PauseReminders(StaffAction):
    until: AwareDatetime | None = None


class ResumeReminders(StaffAction):
    pass


class ExtendDueDate(StaffAction):
    """Either a new due date (calendar policies) or a shift of the due instant (both kinds)."""

    due_date: date | None = None
    extend_by: timedelta | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> ExtendDueDate:
        if (self.due_date is None) == (self.extend_by is None):
            raise ValueError("give exactly one of due_date or extend_by")
        return self


class VoidInvoice(StaffAction):
    reason: str = Field(min_length=1, max_length=500)


class WriteOff(StaffAction):
    reason: str = Field(min_length=1, max_length=500)


# --- activity payloads ------------------------------------------------------------------------------


class RecordInvoiceInput(BaseModel):
    booking: BookingIn
    workflow_id: str


class PlanRemindersInput(BaseModel):
    policy: ReminderPolicy
    timezone: str
    issued_at: datetime
    due_date: date
    due_at: datetime
    already: list[ScheduledReminder] = Field(default_factory=list)


class ReminderPlan(BaseModel):
    reminders: list[ScheduledReminder]


class DueDateInput(BaseModel):
    """Recompute due date and instant after an extension, in the client's time zone."""

    policy: ReminderPolicy
    timezone: str
    due_date: date
    due_at: datetime
    change: ExtendDueDate


class DueDate(BaseModel):
    due_date: date
    due_at: datetime


class PaymentLinkInput(BaseModel):
    invoice_id: int
    public_token: str
    workflow_id: str


class PaymentLink(BaseModel):
    url: str


class RecordPaymentInput(BaseModel):
    invoice_id: int
    workflow_id: str
    payment: PaymentReceived
    note: str | None = None


class PaymentOutcome(BaseModel):
    recorded: bool  # False: this provider reference was already recorded
    rejected_reason: str | None = None
    status: InvoiceStatus
    amount_paid_minor: int
    total_minor: int


class InvoiceTransition(BaseModel):
    """A status or reminder-setting change written with its timeline event in one transaction."""

    invoice_id: int
    workflow_id: str
    event_key: str  # idempotency key of the timeline event
    kind: str  # overdue, void, write_off, paused, resumed, due_date_extended, escalated, rejected
    message: str = ""
    due_date: date | None = None
    due_at: datetime | None = None
    paused_until: datetime | None = None
    data: dict[str, str] = Field(default_factory=dict)


class TransitionResult(BaseModel):
    status: InvoiceStatus


class SendEmailInput(BaseModel):
    invoice_id: int
    kind: EmailKind
    idempotency_key: str
    reminder_step: int | None = None
    template: str | None = None
    to_staff: bool = False


class SentEmail(BaseModel):
    message_id: int
    provider_message_id: str | None
    already_sent: bool


class ResendUnsettledInput(BaseModel):
    """The unsettled-email sweep: hand-overs older than this with no provider event are re-sent."""

    resend_after_seconds: int = Field(default=600, ge=1)
    limit: int = Field(default=100, ge=1, le=1_000)  # x at most 25 s a hand-over: within the 45-min timeout


class ResendUnsettledResult(BaseModel):
    checked: int
    resent: int
