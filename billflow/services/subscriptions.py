"""Recurring billing rules: creating subscriptions, their periods, the booking each period is invoiced from,
status and plan changes. Starting and signalling their workflows is billflow.runs.subscriptions.

Changes to a running subscription go through its workflow (signals), which writes them with `apply_change`:
the workflow is the single writer, so a pause sent from the Temporal UI lands in the database too.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from sqlmodel.ext.asyncio.session import AsyncSession

from billflow import periods
from billflow.repositories import clients as clients_repo
from billflow.repositories import subscriptions as subs_repo
from billflow.repositories import timeline as timeline_repo
from models import workflow_ids
from models.client_sources import STAFF_SOURCE
from models.clients import Client as ClientRow
from models.columns import DEFAULT_WORKSPACE_ID, utcnow
from models.subscription_io import (
    BillingInterval,
    BillingSchedule,
    Period,
    PeriodCounts,
    PeriodOutcome,
    RecordPeriodInput,
    SubscriptionChange,
    SubscriptionIn,
    SubscriptionStatus,
    SubscriptionView,
    new_subscription_id,
)
from models.subscriptions import Subscription
from models.workflow_io import BookingIn, ClientIn, LineIn, ReminderPolicy

BOOKING_SOURCE = "subscription"
# Invoices of a period go out within this many seconds of its instant, spread by subscription: 10,000 plans due at
# 09:00 wake over a minute instead of in one second (the dev server on SQLite stalls on 1,000 simultaneous wakes).
FIRE_SPREAD_SECONDS = 60


class SubscriptionNotFound(LookupError):
    pass


class SubscriptionConflict(ValueError):
    """The id is taken by a different subscription, or the action does not apply in the current state."""


class BackfillTooLong(ValueError):
    """A past start date would bill more periods at once than the bound allows; names the field (422)."""

    field = "start_date"


# BILLFLOW_SUBSCRIPTION_MAX_BACKFILL's default, for callers without settings.
MAX_BACKFILL_PERIODS = 12
BACKFILL_SETTING = "BILLFLOW_SUBSCRIPTION_MAX_BACKFILL"


def check_backfill(schedule: BillingSchedule, *, now: datetime, max_periods: int) -> None:
    due = periods.count_due(schedule, now, stop_after=max_periods)
    if due > max_periods:
        raise BackfillTooLong(
            f"start_date: {schedule.start_date.isoformat()} would bill more than {max_periods} past periods at once "
            f"(at most {max_periods}, {BACKFILL_SETTING}); choose a later start date"
        )


class WorkflowClosed(Exception):
    """The subscription's workflow has finished (cancelled or ended): it takes no more actions."""


def invoice_booking_id(subscription_id: str, period_start: date) -> str:
    """The booking id of a period's invoice; the invoice workflow id `invoice-subscription-{id}-{start}` follows,
    so a double fire, catch-up, backfill or manual trigger of the same period finds the same workflow."""
    return f"{subscription_id}-{period_start.isoformat()}"


def schedule_of(sub: Subscription) -> BillingSchedule:
    return BillingSchedule(
        interval=BillingInterval.model_validate(sub.interval),
        timezone=sub.timezone,
        start_date=sub.start_date,
        end_date=sub.end_date,
        max_cycles=sub.max_cycles,
        issue_hour=sub.issue_hour,
    )


def booking_for_period(sub: Subscription, client: ClientRow, lines: list[LineIn], period: Period) -> BookingIn:
    """The booking a period is invoiced from: the plan in effect on the period's first day, the service period,
    and terms and reminders of the subscription. issued_at stays unset: the invoice workflow fixes it."""
    return BookingIn(
        source=BOOKING_SOURCE,
        booking_id=invoice_booking_id(sub.id, period.start),
        client=ClientIn(external_id=client.external_id, name=client.name, email=client.email, timezone=sub.timezone),
        client_source=client.source,  # the subscription's own client, whoever else uses the external id
        requested_by=f"subscription:{sub.id}",
        lines=lines,
        currency=sub.currency,
        payment_terms=timedelta(seconds=sub.payment_terms_seconds),
        memo=sub.memo,
        reminder_policy=ReminderPolicy.model_validate(sub.reminder_policy),
        subscription_id=sub.id,
        period_start=period.start,
        period_end=period.end,
        workspace_id=sub.workspace_id,
    )


# --- database: one transaction each -----------------------------------------------------------------


async def _require(session: AsyncSession, subscription_id: str, *, for_update: bool = False) -> Subscription:
    sub = await subs_repo.get_subscription(session, subscription_id=subscription_id, for_update=for_update)
    if sub is None:
        raise SubscriptionNotFound(f"subscription {subscription_id} does not exist")
    return sub


async def create_subscription(
    session: AsyncSession,
    *,
    data: SubscriptionIn,
    max_backfill_periods: int = MAX_BACKFILL_PERIODS,
    client_source: str = STAFF_SOURCE,
    actor: str = STAFF_SOURCE,
    workspace_id: int = DEFAULT_WORKSPACE_ID,
) -> tuple[Subscription, bool]:
    """Insert the subscription and its first plan version in `workspace_id` (the caller's: the key's, the
    integration's, the CLI's --workspace), with its client there; (subscription, created). The same id again
    returns the first one, unless it names a different client or workspace (a conflict, not a silent overwrite).
    A new subscription whose start date lies so far back that more than `max_backfill_periods` periods are due
    is refused."""
    subscription_id = data.subscription_id or new_subscription_id()
    existing = await _existing(session, subscription_id)
    if existing is not None and existing.workspace_id != workspace_id:
        # Ids are unique in the installation; the answer names nothing of the other workspace's subscription.
        raise SubscriptionConflict(f"subscription_id {subscription_id} is taken: choose another")
    if existing is None:  # before any write: a refused backfill stores nothing
        check_backfill(data.schedule(), now=utcnow(), max_periods=max_backfill_periods)
    client_id = await clients_repo.upsert_client(
        session, client=data.client, source=client_source, actor=actor, workspace_id=workspace_id
    )
    if existing is not None:
        if existing.client_id != client_id:
            raise SubscriptionConflict(f"subscription_id {subscription_id} belongs to another client")
        return existing, False
    first = periods.first_period(data.schedule())
    sub = Subscription(
        id=subscription_id,
        workspace_id=workspace_id,
        client_id=client_id,
        currency=data.currency,
        interval=data.interval.model_dump(mode="json"),
        timezone=data.client.timezone,
        start_date=data.start_date,
        end_date=data.end_date,
        max_cycles=data.max_cycles,
        issue_hour=data.issue_hour,
        payment_terms_seconds=int(data.payment_terms.total_seconds()),
        reminder_policy=data.reminder_policy.model_dump(mode="json"),
        memo=data.memo,
        workflow_id=workflow_ids.subscription(workspace_id=workspace_id, subscription_id=subscription_id),
        next_period_start=first.start if first else None,
    )
    session.add(sub)
    await session.flush()
    await subs_repo.put_plan(
        session,
        subscription_id=subscription_id,
        effective_from=data.start_date,
        lines=[line.model_dump(mode="json") for line in data.lines],
    )
    await timeline_repo.add_event(
        session,
        client_id=client_id,
        kind="subscription.created",
        message=f"Subscription {subscription_id} created: {data.interval.kind.value} from {data.start_date}",
        data={"subscription_id": subscription_id},
        key=f"subscription:{subscription_id}:created",
    )
    return sub, True


async def _existing(session: AsyncSession, subscription_id: str) -> Subscription | None:
    return await subs_repo.get_subscription(session, subscription_id=subscription_id)


async def next_period(session: AsyncSession, *, subscription_id: str, previous: Period | None) -> Period | None:
    """The period after `previous`, remembered on the subscription for listings."""
    sub = await _require(session, subscription_id, for_update=True)
    period = periods.next_period(schedule_of(sub), previous)
    sub.next_period_start = period.start if period else None
    sub.updated_at = utcnow()
    session.add(sub)
    return period


async def find_period(
    session: AsyncSession, *, subscription_id: str, period_start: date, not_after: datetime
) -> tuple[Period | None, str | None]:
    """The period starting on `period_start` if it may be billed now; else (None, why not)."""
    sub = await _require(session, subscription_id)
    period = periods.period_starting(schedule_of(sub), period_start)
    if period is None:
        return None, f"no period of {subscription_id} starts on {period_start.isoformat()}"
    if period.starts_at > not_after:
        return None, f"the period starting {period_start.isoformat()} is not due yet"
    return period, None


async def period_booking(session: AsyncSession, *, subscription_id: str, period: Period) -> BookingIn:
    sub = await _require(session, subscription_id)
    client = await clients_repo.get_client(session, client_id=sub.client_id)
    plan = await subs_repo.plan_effective_on(session, subscription_id=subscription_id, day=period.start)
    if client is None or plan is None:
        raise SubscriptionNotFound(f"subscription {subscription_id} has no client or plan for {period.start}")
    lines = [LineIn.model_validate(line) for line in plan.lines]
    return booking_for_period(sub, client, lines, period)


async def record_period(session: AsyncSession, *, data: RecordPeriodInput) -> PeriodCounts:
    """Record a billed or skipped period once and refresh the counters."""
    sub = await _require(session, data.subscription_id, for_update=True)
    is_new = await subs_repo.insert_period_once(
        session,
        subscription_id=sub.id,
        index=data.period.index,
        period_start=data.period.start,
        period_end=data.period.end,
        outcome=data.outcome.value,
        invoice_workflow_id=data.invoice_workflow_id,
        reason=data.reason,
    )
    if is_new:
        rows = await subs_repo.list_periods(session, subscription_id=sub.id)
        sub.periods_billed = sum(1 for r in rows if r.outcome == PeriodOutcome.billed)
        sub.periods_skipped = len(rows) - sub.periods_billed
        sub.updated_at = utcnow()
        session.add(sub)
        await timeline_repo.add_event(
            session,
            client_id=sub.client_id,
            kind=f"subscription.period_{data.outcome.value}",
            message=f"Period {data.period.start} to {data.period.end} {data.outcome.value}"
            + (f": {data.reason}" if data.reason else ""),
            data={"subscription_id": sub.id, "period_start": data.period.start.isoformat()},
            key=f"subscription:{sub.id}:period:{data.period.start.isoformat()}:{data.outcome.value}",
        )
    return PeriodCounts(is_new=is_new, periods_billed=sub.periods_billed, periods_skipped=sub.periods_skipped)


async def apply_change(session: AsyncSession, *, change: SubscriptionChange) -> SubscriptionStatus:
    """Apply a status or plan change with its timeline event; a repeated change key changes nothing."""
    sub = await _require(session, change.subscription_id, for_update=True)
    key = f"subscription:{sub.id}:{change.change_key}"
    if await timeline_repo.event_exists(session, key=key):
        return SubscriptionStatus(sub.status)
    now = utcnow()
    if change.lines is not None:
        assert change.effective_from is not None
        await subs_repo.put_plan(
            session,
            subscription_id=sub.id,
            effective_from=change.effective_from,
            lines=[line.model_dump(mode="json") for line in change.lines],
        )
        kind, message = "plan_changed", f"Plan changed from the period starting {change.effective_from}"
    else:
        assert change.status is not None
        kind, message = change.status.value, f"Subscription {change.status.value}"
        sub.status = change.status
        match change.status:
            case SubscriptionStatus.paused:
                sub.paused_at = now
            case SubscriptionStatus.active:
                sub.paused_at = None
            case SubscriptionStatus.cancelled:
                sub.cancelled_at, sub.ends_on, sub.next_period_start = now, change.ends_on, None
            case SubscriptionStatus.ended:
                sub.ended_at, sub.ends_on, sub.next_period_start = now, change.ends_on, None
        if change.ends_on:
            message += f", last day of service {change.ends_on}"
    sub.updated_at = now
    session.add(sub)
    await timeline_repo.add_event(
        session,
        client_id=sub.client_id,
        kind=f"subscription.{kind}",
        message=message,
        data={"subscription_id": sub.id, "actor": change.actor, "note": change.note or ""},
        key=key,
    )
    return SubscriptionStatus(sub.status)


async def describe(session: AsyncSession, *, subscription_id: str) -> SubscriptionView:
    sub = await _require(session, subscription_id)
    client = await clients_repo.get_client(session, client_id=sub.client_id)
    assert client is not None
    return SubscriptionView.of_rows(
        sub,
        client,
        invoices=list(await subs_repo.list_invoices(session, subscription_id=sub.id)),
        periods=list(await subs_repo.list_periods(session, subscription_id=sub.id)),
        plans=list(await subs_repo.list_plans(session, subscription_id=sub.id)),
    )
