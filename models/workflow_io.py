"""Pydantic contracts of the invoice workflow: its input, signals, query and activity payloads.

Pure pydantic (no SQLAlchemy), so workflow code can import it. One model in, one out, everywhere, so fields
can be added later without breaking runs in flight.
"""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from decimal import Decimal
from enum import StrEnum
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

from models import workflow_ids
from models.client_sources import source_of_booking
from models.documents import TaxLine, check_country, check_vat_id
from models.enums import BuyerKind, EmailKind, InterestPreset, InvoiceKind, InvoiceStatus, TaxCategory
from models.money import MAX_TOTAL_MINOR, CurrencyCode, MinorAmount, check_total, price_amounts
from models.reminder_policy import ReminderPolicy as ReminderPolicy
from models.reminder_policy import ReminderStep as ReminderStep
from models.time_zones import TimeZoneName

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
    # --- billing details (issue 14): the buyer on the invoice ---
    kind: BuyerKind | None = None  # unset: business when a VAT id is given, else what is on file (consumer)
    address_line1: str | None = Field(default=None, max_length=200)
    postcode: str | None = Field(default=None, max_length=20)
    city: str | None = Field(default=None, max_length=100)
    country: Annotated[str, AfterValidator(check_country)] | None = None
    vat_id: Annotated[str, AfterValidator(check_vat_id)] | None = None


class LineIn(BaseModel):
    description: str = Field(min_length=1, max_length=500)
    quantity: Decimal = Field(default=Decimal(1), gt=0, le=1_000_000, decimal_places=3)
    unit_price_minor: MinorAmount
    tax_rate_bp: int = Field(default=0, ge=0, le=10_000, description="tax rate in basis points: 2000 = 20 %")
    # Unset: standard when the rate is above zero, zero-rated otherwise (what every booking meant before).
    tax_category: TaxCategory | None = None
    exemption_reason: str | None = Field(default=None, min_length=1, max_length=300)

    @property
    def category(self) -> TaxCategory:
        if self.tax_category is not None:
            return self.tax_category
        return TaxCategory.standard if self.tax_rate_bp > 0 else TaxCategory.zero

    @property
    def tax_line(self) -> TaxLine:
        return TaxLine(category=self.category, rate_bp=self.tax_rate_bp, exemption_reason=self.exemption_reason)

    @model_validator(mode="after")
    def _category_fits_the_rate(self) -> LineIn:
        category = self.category
        if category is TaxCategory.standard and self.tax_rate_bp == 0:
            raise ValueError("tax_rate_bp: a standard-rated line needs a rate above 0 (EN 16931 BR-S-05)")
        if category is not TaxCategory.standard and self.tax_rate_bp != 0:
            raise ValueError(f"tax_rate_bp: a {category.value} line carries no VAT, the rate must be 0")
        if category is TaxCategory.exempt and not self.exemption_reason:
            raise ValueError("exemption_reason: an exempt line needs the reason for the exemption (BR-E-10)")
        return self

    @model_validator(mode="after")
    def _total_in_range(self) -> LineIn:
        check_total(self.total_minor, "line total")
        return self

    @property
    def total_minor(self) -> int:
        return sum(price_amounts(self.quantity, self.unit_price_minor, self.tax_rate_bp))


class DepositIn(BaseModel):
    """The part of a booking invoiced in advance: a gross amount or a percentage of the gross total."""

    amount_minor: int | None = Field(default=None, gt=0, le=MAX_TOTAL_MINOR)
    percent_bp: int | None = Field(default=None, gt=0, lt=10_000, description="3000 = 30 %")

    @model_validator(mode="after")
    def _exactly_one(self) -> DepositIn:
        if (self.amount_minor is None) == (self.percent_bp is None):
            raise ValueError("deposit: give exactly one of amount_minor or percent_bp")
        return self


def check_lines_total(lines: list[LineIn]) -> list[LineIn]:
    """The invoice total (every line, tax included) stays within MAX_TOTAL_MINOR."""
    check_total(sum(line.total_minor for line in lines), "invoice total")
    return lines


class LateInterestTerms(BaseModel):
    """Late-payment interest agreed or owed by law for this invoice (shown in reminder emails and the plan)."""

    preset: InterestPreset
    consumer: bool = False  # the statutory B2B presets then do not apply
    contractual_rate_bp: int | None = Field(default=None, ge=0, le=5_000, description="contractual preset only")
    agreed_fee_minor: int = Field(default=0, ge=0, le=10**9, description="contractual preset only")


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
    # Set by billflow's intake, never taken from a body: whose client this is ("staff", "integration:{name}")
    # and who sent the booking (recorded when it changes the client's email). None in runs started earlier.
    client_source: str | None = Field(default=None, max_length=80)
    requested_by: str | None = Field(default=None, max_length=200)
    # Set by billflow's intake too: the workspace the booking's client and invoice belong to (the posting
    # integration's; issue 13). Runs started before workspaces carry none: the first workspace's.
    workspace_id: int = Field(default=1, ge=1, le=2**31 - 1)

    @property
    def client_owner(self) -> str:
        return self.client_source or source_of_booking(self.source)

    @property
    def requester(self) -> str:
        return self.requested_by or self.client_owner

    # --- documents (issue 14) ---
    # Ask for an advance payment: a deposit invoice now, the final invoice (deposit deducted) later.
    deposit: DepositIn | None = None
    # Set by billflow: which document of the booking this is, and for a final invoice the deposit's source key.
    kind: InvoiceKind = InvoiceKind.invoice
    deposit_source_key: str | None = Field(default=None, max_length=300)

    @model_validator(mode="after")
    def _document_rules(self) -> BookingIn:
        """Inputs that cannot make a valid document are refused before issue, naming the field and the rule."""
        for index, line in enumerate(self.lines):
            if line.category is TaxCategory.reverse_charge:
                if not self.client.vat_id:
                    raise ValueError(
                        f"client.vat_id: lines[{index}] is reverse charge, which needs the buyer's VAT id (BR-AE-02)"
                    )
                if self.client.kind is BuyerKind.consumer:
                    raise ValueError(f"client.kind: lines[{index}] is reverse charge, only possible to a business")
        if self.period_start and self.period_end and self.period_end < self.period_start:
            raise ValueError("period_end: the service period ends before it starts")
        if self.deposit is not None:
            if self.kind is not InvoiceKind.invoice:
                raise ValueError("deposit: only a booking's own invoice can ask for a deposit")
            if self.deposit.amount_minor is not None:
                gross = _gross_estimate(self.lines)
                if self.deposit.amount_minor >= gross:
                    raise ValueError(f"deposit.amount_minor: must be less than the booking's total ({gross})")
        return self

    late_interest: LateInterestTerms | None = None

    @field_validator("payment_terms")
    @classmethod
    def _terms_in_range(cls, value: timedelta) -> timedelta:
        if value < timedelta(0) or value > timedelta(days=366):
            raise ValueError("payment_terms must be between 0 and 366 days")
        return value

    @field_validator("lines")
    @classmethod
    def _lines_total(cls, lines: list[LineIn]) -> list[LineIn]:
        return check_lines_total(lines)

    @property
    def document_kind(self) -> InvoiceKind:
        """A booking that asks for a deposit is first the deposit invoice's booking."""
        return InvoiceKind.deposit if self.deposit is not None else self.kind

    @property
    def source_key(self) -> str:
        suffix = ":deposit" if self.deposit is not None else ""
        return f"booking:{self.source}:{self.booking_id}{suffix}"

    @property
    def workflow_id(self) -> str:
        """Derived from the workspace and the booking, so a second start for the same booking finds the first run
        (models/workflow_ids.py). The deposit invoice runs as `invoice-w{n}-{source}-{booking}-deposit`; its final
        invoice later takes the booking's own id."""
        return workflow_ids.invoice(
            workspace_id=self.workspace_id,
            source=self.source,
            booking_id=self.booking_id,
            deposit=self.deposit is not None,
        )

    @property
    def legacy_workflow_id(self) -> str:
        """The id this booking's run was given before workspaces (runs in flight keep it)."""
        return workflow_ids.legacy_invoice(
            source=self.source, booking_id=self.booking_id, deposit=self.deposit is not None
        )

    def final_booking(self, *, deposit_source_key: str) -> BookingIn:
        """The booking of the final invoice that deducts this booking's deposit invoice."""
        return self.model_copy(
            update={
                "deposit": None,
                "kind": InvoiceKind.final,
                "deposit_source_key": deposit_source_key,
                "issued_at": None,
            }
        )


def _gross_estimate(lines: list[LineIn]) -> int:
    """The booking's gross total, rounded as its document will be."""
    from models import tax

    rows = tax.breakdown((line.tax_line, tax.line_net(line.quantity, line.unit_price_minor)) for line in lines)
    return tax.totals(rows)[2]


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


class HoldKind(StrEnum):
    processing = "processing"  # a payment in flight (Stripe async method, or a transfer the client says they made)
    promise = "promise"  # the client promised to pay by a date
    dispute = "dispute"  # the client disputes the invoice until staff resolve it


class CollectionHold(BaseModel):
    """Why reminders (and escalation) wait: one at a time; `until` None means until an event ends it."""

    kind: HoldKind
    reference: str  # "stripe:cs_...", "answer:<id>": the payment or answer that started it
    since: datetime
    until: datetime | None = None
    label: str = ""  # shown to staff and in the Temporal UI, e.g. "bank transfer ref 4711 on 2026-12-01"

    @property
    def rank(self) -> int:
        """A weaker hold never replaces a stronger one: a promise does not end a payment in flight, and neither
        ends a dispute (only staff do)."""
        return {HoldKind.promise: 1, HoldKind.processing: 2, HoldKind.dispute: 3}[self.kind]


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
    credited_minor: int = 0  # credit notes issued against the invoice (issue 14)
    processed_action_ids: list[str] = Field(default_factory=list)
    last_rejection: str | None = None
    # Collections (issue 16): what holds reminders back now, and the references/answers already handled.
    hold: CollectionHold | None = None
    closed_references: list[str] = Field(default_factory=list)
    handled_answer_ids: list[str] = Field(default_factory=list)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def balance_minor(self) -> int:
        return self.total_minor - self.credited_minor - self.amount_paid_minor

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


class PlanEntry(BaseModel):
    """One thing the invoice's run will do, and when."""

    at: datetime  # UTC instant
    kind: str  # reminder, overdue, escalation, promise_ends, wait_ends, pause_ends
    label: str  # what happens, in plain words
    local_label: str | None = None  # "2026-12-01 09:00 Europe/London" where the planner formatted it
    step: int | None = None
    skipped: bool = False  # falls inside a pause or a hold: it will not be sent
    note: str = ""


class InvoicePlan(BaseModel):
    """The plan ahead (the `plan` query, the API, the CLI, the invoice page and dry runs)."""

    number: str
    status: InvoiceStatus
    as_of: datetime
    due_date: date
    due_at: datetime
    timezone: str
    hold: CollectionHold | None = None
    entries: list[PlanEntry] = Field(default_factory=list)

    @property
    def next_reminder(self) -> PlanEntry | None:
        return next((e for e in self.entries if e.kind == "reminder" and not e.skipped), None)


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
    # Set by continue-as-new: whether this invoice's child runs get workspace ids. A run started before workspaces
    # has its WorkspaceId upserted later, so the next run cannot tell from the attribute (None: the first run).
    workspace_ids: bool | None = None


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


# The ApplicationError type a run's Update fails with when it refuses a staff action (its validator or its main
# loop); the Temporal client side (billflow.temporal.execute_answered_update) turns it into the caller's refusal.
ACTION_REJECTED = "ActionRejected"


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


class ResolveDispute(StaffAction):
    """Staff close the client's dispute; reminders resume (void, write off or extend separately if needed)."""

    resolution: str = Field(min_length=1, max_length=1000)


class ResendEmail(StaffAction):
    """Staff send the last email of a kind again (issue 12.3: an Update, answered with the message sent); the
    action id is the request's, so a repeated request sends nothing more."""

    kind: EmailKind
    reminder_step: int | None = None  # the step of the email resent (a reminder's wording depends on it)


# --- collections: payments in flight and the client's answers (issue 16) ----------------------------


class PaymentProcessing(BaseModel):
    """A payment started but not settled (e.g. a Checkout Session completed with payment_status unpaid)."""

    provider: str = Field(pattern=r"^[a-z_]{1,32}$")
    provider_reference: str = Field(min_length=1, max_length=200)
    started_at: AwareDatetime
    method: str = Field(default="async", max_length=32)
    until: AwareDatetime | None = None  # None: until the provider says it succeeded or failed


class PaymentFailed(BaseModel):
    provider: str = Field(pattern=r"^[a-z_]{1,32}$")
    provider_reference: str = Field(min_length=1, max_length=200)
    failed_at: AwareDatetime
    reason: str = Field(default="", max_length=500)


class ClientAnswer(BaseModel):
    """Sent by the client from the invoice page; `answer_id` is derived from its content, so the same answer
    submitted twice has one effect."""

    answer_id: str = Field(pattern=r"^[0-9a-f]{16,64}$")
    received_at: AwareDatetime


class TransferClaimed(ClientAnswer):
    """ "I paid by bank transfer": the invoice waits in processing until `until` (computed by the service)."""

    paid_on: date
    reference: str = Field(min_length=1, max_length=100)
    until: AwareDatetime


class PaymentPromised(ClientAnswer):
    """ "I'll pay on <date>": reminders wait until `until` (the end of that local day plus the grace period)."""

    pay_on: date
    until: AwareDatetime


class DisputeRaised(ClientAnswer):
    reason: str = Field(min_length=1, max_length=1000)


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
    credited_minor: int = 0  # credit notes against the invoice (issue 14): the balance is net of them


class CreditNoteIssued(BaseModel):
    """Signal: a credit note was issued outside the workflow (staff correction); the invoice's amounts now."""

    number: str
    credited_minor: int
    status: InvoiceStatus


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
    credit_note_id: int | None = None  # a void's cancellation credit note (issue 14)
    credited_minor: int = 0


class SendEmailInput(BaseModel):
    invoice_id: int
    kind: EmailKind
    idempotency_key: str
    reminder_step: int | None = None
    template: str | None = None
    to_staff: bool = False
    credit_note_id: int | None = None  # the credit note this email carries (its PDF is attached)
    details: dict[str, str] = Field(default_factory=dict)  # extra template values (e.g. a client's answer)


class SentEmail(BaseModel):
    message_id: int
    provider_message_id: str | None
    already_sent: bool
    # A reminder not sent because the invoice was settled meanwhile (a payment committed a moment earlier):
    # message_id is then 0, no row was written.
    skipped_settled: bool = False


class SettlementInput(BaseModel):
    invoice_id: int
    workflow_id: str


class PrepareInterestInput(BaseModel):
    invoice_id: int
    as_of: datetime  # the interest is counted up to this instant's local day


class PreparedInterest(BaseModel):
    booking: BookingIn | None = None  # None: nothing owed, excluded, or a reference rate is missing
    reason: str = ""


class ResendUnsettledInput(BaseModel):
    """The unsettled-email sweep: hand-overs older than this with no provider event are re-sent."""

    resend_after_seconds: int = Field(default=600, ge=1)
    limit: int = Field(default=100, ge=1, le=1_000)  # x at most 25 s a hand-over: within the 45-min timeout


class ResendUnsettledResult(BaseModel):
    checked: int
    resent: int
