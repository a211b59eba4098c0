"""Pydantic contracts of recurring billing: the subscription's schedule, the workflow's input, signals, query
and activity payloads.

Pure pydantic (no SQLAlchemy), so workflow code can import it. Cron expressions are validated with croniter here,
outside the sandbox; the workflow itself never parses them.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import Any
from uuid import uuid4

from pydantic import BaseModel, Field, field_validator, model_validator

from models.enums import UNSETTLED_STATUSES
from models.money import CurrencyCode
from models.workflow_io import (
    ClientIn,
    LineIn,
    ReminderPolicy,
    TimeZoneName,
    check_lines_total,
    new_action_id,
)

# The invoice's booking id is f"{subscription_id}-{period_start}" and must stay a BusinessKey (<= 120 chars).
SUBSCRIPTION_ID_MAX = 100


class SubscriptionStatus(StrEnum):
    active = "active"
    paused = "paused"  # periods that start while paused are skipped, not billed later
    cancelled = "cancelled"  # by staff: no invoice after the current period
    ended = "ended"  # the end date or cycle count was reached

    @property
    def is_final(self) -> bool:
        return self in (SubscriptionStatus.cancelled, SubscriptionStatus.ended)


class IntervalKind(StrEnum):
    weekly = "weekly"
    monthly = "monthly"
    quarterly = "quarterly"
    yearly = "yearly"
    cron = "cron"

    @property
    def months(self) -> int:
        return {"monthly": 1, "quarterly": 3, "yearly": 12}.get(self.value, 0)


class BillingInterval(BaseModel):
    """How often a subscription bills: every N weeks, months, quarters or years, or a cron expression."""

    kind: IntervalKind
    every: int = Field(default=1, ge=1, le=52, description="every N weeks / months / quarters / years")
    day_of_month: int | None = Field(
        default=None,
        ge=1,
        le=31,
        description="monthly/quarterly/yearly: the anchor day (31 = last day of shorter months); "
        "default: the start date's day",
    )
    cron: str | None = Field(default=None, max_length=100, description="5-field cron, in the client's time zone")

    @property
    def label(self) -> str:
        """How staff read it: "monthly on day 1", "every 2 weeks", "cron 0 9 1 * *"."""
        if self.kind is IntervalKind.cron:
            return f"cron {self.cron}"
        unit = {"weekly": "weeks", "monthly": "months", "quarterly": "quarters", "yearly": "years"}[self.kind.value]
        text = self.kind.value if self.every == 1 else f"every {self.every} {unit}"
        return f"{text} on day {self.day_of_month}" if self.day_of_month else text

    @model_validator(mode="after")
    def _consistent(self) -> BillingInterval:
        if self.kind is IntervalKind.cron:
            if not self.cron:
                raise ValueError("cron: required when kind is cron")
            _check_cron(self.cron)
        elif self.cron is not None:
            raise ValueError("cron: only allowed when kind is cron")
        if self.day_of_month is not None and not self.kind.months:
            raise ValueError("day_of_month: only for monthly, quarterly and yearly intervals")
        return self


def _check_cron(expression: str) -> None:
    """Five fields, and at most one fire per local day: a period is keyed by its start date."""
    from croniter import croniter

    if len(expression.split()) != 5 or not croniter.is_valid(expression):
        raise ValueError(f"cron: {expression!r} is not a valid 5-field cron expression")
    minutes, hours = croniter(expression).expanded[:2]
    if len(minutes) != 1 or len(hours) != 1 or "*" in (minutes[0], hours[0]):
        raise ValueError("cron: must fire at one fixed time of day (one period per day at most)")


def interval_text(interval: dict[str, Any]) -> str:
    """A stored interval in words (BillingInterval.label); a row that no longer validates shows its kind."""
    try:
        return BillingInterval.model_validate(interval).label
    except ValueError:
        return str(interval.get("kind", ""))


class BillingSchedule(BaseModel):
    """Everything the period calculator needs: pure data, no database."""

    interval: BillingInterval
    timezone: TimeZoneName = "UTC"
    start_date: date
    end_date: date | None = Field(default=None, description="last day of service; later periods are not billed")
    max_cycles: int | None = Field(default=None, ge=1, le=10_000, description="number of periods billed at most")
    issue_hour: int = Field(default=9, ge=0, le=23, description="local hour the invoice goes out (not for cron)")

    @model_validator(mode="after")
    def _end_after_start(self) -> BillingSchedule:
        if self.end_date is not None and self.end_date < self.start_date:
            raise ValueError("end_date: must not be before start_date")
        return self


class Period(BaseModel):
    """One billing period: local dates [start, end] inclusive, billed at the UTC instant `starts_at`."""

    index: int  # 0-based position from the start date
    start: date
    end: date
    starts_at: datetime
    local_start: datetime  # naive wall-clock time of the fire, for the next cron step

    @property
    def key(self) -> str:
        return self.start.isoformat()


# --- create and change ------------------------------------------------------------------------------


class SubscriptionIn(BaseModel):
    """A new subscription. With `subscription_id` set, creating it twice returns the first one."""

    subscription_id: str | None = Field(default=None, max_length=SUBSCRIPTION_ID_MAX, pattern=r"^[A-Za-z0-9._:@-]+$")
    client: ClientIn
    lines: list[LineIn] = Field(min_length=1, max_length=200)
    currency: CurrencyCode
    interval: BillingInterval
    start_date: date
    end_date: date | None = None
    max_cycles: int | None = Field(default=None, ge=1, le=10_000)
    issue_hour: int = Field(default=9, ge=0, le=23)
    payment_terms: timedelta = Field(default=timedelta(days=14))
    reminder_policy: ReminderPolicy = Field(default_factory=ReminderPolicy.standard)
    memo: str | None = Field(default=None, max_length=2000)

    @field_validator("payment_terms")
    @classmethod
    def _terms_in_range(cls, value: timedelta) -> timedelta:
        if value < timedelta(0) or value > timedelta(days=366):
            raise ValueError("payment_terms must be between 0 and 366 days")
        return value

    @field_validator("lines")
    @classmethod
    def _lines_total(cls, lines: list[LineIn]) -> list[LineIn]:
        return check_lines_total(lines)  # each period's invoice carries these lines

    @model_validator(mode="after")
    def _end_after_start(self) -> SubscriptionIn:
        if self.end_date is not None and self.end_date < self.start_date:
            raise ValueError("end_date: must not be before start_date")
        return self

    def schedule(self) -> BillingSchedule:
        return BillingSchedule(
            interval=self.interval,
            timezone=self.client.timezone,
            start_date=self.start_date,
            end_date=self.end_date,
            max_cycles=self.max_cycles,
            issue_hour=self.issue_hour,
        )


def new_subscription_id() -> str:
    return f"sub-{uuid4().hex[:16]}"


# --- workflow input, state, signals -----------------------------------------------------------------


class SubscriptionAction(BaseModel):
    """Every signal carries an id chosen by the caller, so a repeated signal is applied once."""

    action_id: str = Field(default_factory=new_action_id, max_length=64)
    actor: str = Field(default="staff", max_length=200)
    note: str | None = Field(default=None, max_length=2000)


class PauseSubscription(SubscriptionAction):
    pass


class ResumeSubscription(SubscriptionAction):
    pass


class CancelSubscription(SubscriptionAction):
    pass


class ChangePlan(SubscriptionAction):
    """New plan lines, billed from the next period on."""

    lines: list[LineIn] = Field(min_length=1, max_length=200)


class TriggerBilling(SubscriptionAction):
    """Bill one period now: the given one (it must have started, or be the next one), else the current one.
    A period already billed is not billed again."""

    period_start: date | None = None


class SubscriptionRunState(BaseModel):
    """What the `status` query returns, and what continue-as-new carries over."""

    subscription_id: str
    status: SubscriptionStatus = SubscriptionStatus.active
    started: bool = False
    next_period: Period | None = None
    current_period: Period | None = None  # the latest period that has started (billed or skipped)
    periods_billed: int = 0
    periods_skipped: int = 0
    last_invoice_workflow_id: str | None = None
    processed_action_ids: list[str] = Field(default_factory=list)
    last_rejection: str | None = None
    # Issue 13: whether this subscription's invoice runs get workspace ids (`invoice-w1-...`): decided once, by
    # the first run that sees it (True when started with a WorkspaceId), and carried over by continue-as-new, so
    # a subscription billing since before keeps its invoices' old ids and a re-billed period meets its run.
    workspace_ids: bool | None = None


class SubscriptionWorkflowInput(BaseModel):
    subscription_id: str
    carried_state: SubscriptionRunState | None = None
    # Periods handled per run before continue-as-new keeps the history short (a weekly plan runs for years).
    periods_per_run: int = Field(default=50, ge=1)
    # Fire up to this many seconds after a period's instant, spread by subscription and period, so thousands of
    # subscriptions due at the same minute do not all wake at the same second (the server's write ceiling).
    spread_seconds: int = Field(default=0, ge=0, le=3600)


class SubscriptionOutcome(BaseModel):
    subscription_id: str
    status: SubscriptionStatus
    periods_billed: int
    periods_skipped: int


# --- activity payloads ------------------------------------------------------------------------------


class NextPeriodInput(BaseModel):
    subscription_id: str
    previous: Period | None = None


class FindPeriodInput(BaseModel):
    subscription_id: str
    period_start: date
    not_after: datetime  # periods that start later than this are not found (no billing of the far future)


class PeriodFound(BaseModel):
    period: Period | None
    reason: str | None = None  # why there is none


class PeriodBookingInput(BaseModel):
    subscription_id: str
    period: Period


class PeriodOutcome(StrEnum):
    billed = "billed"
    skipped = "skipped"


class RecordPeriodInput(BaseModel):
    subscription_id: str
    period: Period
    outcome: PeriodOutcome
    invoice_workflow_id: str | None = None
    reason: str = ""


class PeriodCounts(BaseModel):
    is_new: bool
    periods_billed: int
    periods_skipped: int


class SubscriptionChange(BaseModel):
    """A status or plan change written with its own key, so a retried activity applies it once."""

    subscription_id: str
    change_key: str
    status: SubscriptionStatus | None = None
    lines: list[LineIn] | None = None
    effective_from: date | None = None  # plan changes
    ends_on: date | None = None  # cancel / end: the last day of service billed
    actor: str = "staff"
    note: str | None = None


# --- views for the API and CLI ----------------------------------------------------------------------


class PlanVersionView(BaseModel):
    effective_from: date
    lines: list[LineIn]


class PeriodView(BaseModel):
    index: int
    period_start: date
    period_end: date
    outcome: PeriodOutcome
    invoice_workflow_id: str | None = None
    invoice_number: str | None = None
    invoice_status: str | None = None
    total_minor: int | None = None


class SubscriptionView(BaseModel):
    subscription_id: str
    status: SubscriptionStatus
    client_external_id: str
    client_name: str
    currency: str
    interval: BillingInterval
    timezone: str
    start_date: date
    end_date: date | None
    max_cycles: int | None
    issue_hour: int
    payment_terms: timedelta
    plans: list[PlanVersionView] = Field(default_factory=list)
    periods_billed: int
    periods_skipped: int
    next_period_start: date | None
    ends_on: date | None
    workflow_id: str
    periods: list[PeriodView] = Field(default_factory=list)
    balance_minor: int = 0  # unpaid total over this subscription's invoices

    @classmethod
    def of_rows(
        cls, sub: Any, client: Any, invoices: list[Any], periods: list[Any], plans: list[Any]
    ) -> SubscriptionView:
        """The view from the subscription's row, its client's, its invoices, periods and plan versions (table models
        or rows with their column names, a period's position as `index`): the service and the CLI's light read."""
        by_run = {inv.workflow_id: inv for inv in invoices}
        period_views = []
        for row in periods:
            inv = by_run.get(row.invoice_workflow_id or "")
            period_views.append(
                PeriodView(
                    index=row.index,
                    period_start=row.period_start,
                    period_end=row.period_end,
                    outcome=PeriodOutcome(row.outcome),
                    invoice_workflow_id=row.invoice_workflow_id,
                    invoice_number=inv.number if inv else None,
                    invoice_status=inv.status if inv else None,
                    total_minor=inv.total_minor if inv else None,
                )
            )
        return cls(
            subscription_id=sub.id,
            status=SubscriptionStatus(sub.status),
            client_external_id=client.external_id,
            client_name=client.name,
            currency=sub.currency,
            interval=BillingInterval.model_validate(sub.interval),
            timezone=sub.timezone,
            start_date=sub.start_date,
            end_date=sub.end_date,
            max_cycles=sub.max_cycles,
            issue_hour=sub.issue_hour,
            payment_terms=timedelta(seconds=sub.payment_terms_seconds),
            plans=[
                PlanVersionView(effective_from=p.effective_from, lines=[LineIn.model_validate(x) for x in p.lines])
                for p in plans
            ],
            periods_billed=sub.periods_billed,
            periods_skipped=sub.periods_skipped,
            next_period_start=sub.next_period_start,
            ends_on=sub.ends_on,
            workflow_id=sub.workflow_id,
            periods=period_views,
            balance_minor=sum(i.balance_minor for i in by_run.values() if i.status in UNSETTLED_STATUSES),
        )
