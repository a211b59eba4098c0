"""Report figures of closed days, computed once and reused: the overview's DSO trend and cash by month.

The receivable as of a past day adds back every payment received since (billflow/repositories/reports.py), so a
point six months back reads six months of payments, and cash by month reads a year of them: seconds at a million
invoices. A closed day's figures change only when a row dated before its end is added later (a back-dated
payment or credit note, a late-recorded invoice) or an invoice is voided; `changed_before` looks for exactly
those among the rows newer than the snapshot. A snapshot is also recomputed after MAX_AGE, which bounds any change
no check foresees (a transaction still open while the snapshot's ids were read commits an older id, say).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime, timedelta
from typing import TypeVar

from pydantic import BaseModel
from sqlmodel.ext.asyncio.session import AsyncSession

from billflow.reporting import end_of_day, today_in
from billflow.repositories import report_snapshots as repo
from billflow.services import reports
from models.columns import DEFAULT_WORKSPACE_ID
from models.report_snapshots import ReportSnapshot

MAX_AGE = timedelta(hours=24)
Figures = TypeVar("Figures", bound=BaseModel)


async def _stored(
    session: AsyncSession,
    *,
    workspace_id: int,
    kind: str,
    last: date,
    zone: str,
    params: str,
    model: type[Figures],
    compute: Callable[[], Awaitable[Figures]],
    checked_until: datetime | None = None,
) -> Figures:
    """The figures of days up to `last` (closed): from their snapshot while it holds, else computed and stored.
    `checked_until`: the instant before which a later row would change them (default: the end of `last`)."""
    cutoff = checked_until or end_of_day(last, zone)
    stored = await repo.get_snapshot(
        session, workspace_id=workspace_id, kind=kind, as_of=last, zone=zone, params=params
    )
    fresh = stored is not None and stored.computed_at > datetime.now(UTC) - MAX_AGE
    if stored is not None and fresh and not await repo.changed_before(session, snapshot=stored, cutoff=cutoff):
        return model.model_validate(stored.payload)
    marks = await repo.high_water_marks(session)  # before computing: a row added meanwhile is checked next time
    computed_at = datetime.now(UTC)
    figures = await compute()
    snapshot = ReportSnapshot(
        workspace_id=workspace_id,
        kind=kind,
        as_of=last,
        zone=zone,
        params=params,
        payload=figures.model_dump(mode="json"),
        computed_at=computed_at,
        **marks,
    )
    await repo.save_snapshot(session, snapshot=snapshot)
    return figures


async def days_sales_outstanding(
    session: AsyncSession, *, as_of: date, days: int = 90, zone: str = "UTC", workspace_id: int = DEFAULT_WORKSPACE_ID
) -> reports.DsoReport:
    """reports.days_sales_outstanding, from a snapshot for a closed day while it holds."""

    def compute() -> Awaitable[reports.DsoReport]:
        return reports.days_sales_outstanding(session, as_of=as_of, days=days, zone=zone, workspace_id=workspace_id)

    if as_of >= today_in(zone):  # today is still moving: always computed
        return await compute()
    return await _stored(
        session,
        workspace_id=workspace_id,
        kind="dso",
        last=as_of,
        zone=zone,
        params=f"days={days}",
        model=reports.DsoReport,
        compute=compute,
    )


async def cash_collected(
    session: AsyncSession,
    *,
    grain: reports.Grain,
    start: date | None = None,
    end: date | None = None,
    time_zone: str = "UTC",
    workspace_id: int = DEFAULT_WORKSPACE_ID,
) -> reports.CashReport:
    """reports.cash_collected; by month, the months closed before the current one come from their snapshot (a
    year of payments is most of the work) and only the current month is read afresh."""
    whole = reports.cash_span(grain, start, end, time_zone)
    month_start = today_in(time_zone).replace(day=1)
    if grain is not reports.Grain.month or not whole.start < month_start <= whole.end:
        return await reports.cash_collected(
            session, grain=grain, start=start, end=end, time_zone=time_zone, workspace_id=workspace_id
        )
    last_closed = month_start - timedelta(days=1)

    def closed_months() -> Awaitable[reports.CashReport]:
        return reports.cash_collected(
            session, grain=grain, start=whole.start, end=last_closed, time_zone=time_zone, workspace_id=workspace_id
        )

    closed = await _stored(
        session,
        workspace_id=workspace_id,
        kind="cash",
        last=last_closed,
        zone=time_zone,
        params=f"month:{whole.start.isoformat()}",
        model=reports.CashReport,
        compute=closed_months,
    )
    current = await reports.cash_collected(
        session, grain=grain, start=month_start, end=whole.end, time_zone=time_zone, workspace_id=workspace_id
    )
    return whole.model_copy(update={"rows": [*closed.rows, *current.rows]})


async def reminder_effectiveness(
    session: AsyncSession,
    *,
    within_days: int = 7,
    start: date | None = None,
    end: date | None = None,
    zone: str = "UTC",
    workspace_id: int = DEFAULT_WORKSPACE_ID,
) -> reports.EffectivenessReport:
    """reports.reminder_effectiveness; reminders sent more than `within_days` ago have a final outcome, so that
    part of the window (most of its 180 days) comes from its snapshot and only the last days are read afresh.
    The parts add up: one email per invoice and reminder step (its idempotency key), so no invoice is counted on
    both sides of the split."""
    whole = reports.effectiveness_span(within_days, start, end, zone)
    settled = today_in(zone) - timedelta(days=within_days + 1)  # sent by then: its outcome window has closed
    if whole.start > settled:
        return await reports.reminder_effectiveness(
            session, within_days=within_days, start=start, end=end, zone=zone, workspace_id=workspace_id
        )
    split = min(whole.end, settled)

    def settled_part() -> Awaitable[reports.EffectivenessReport]:
        return reports.reminder_effectiveness(
            session, within_days=within_days, start=whole.start, end=split, zone=zone, workspace_id=workspace_id
        )

    closed = await _stored(
        session,
        workspace_id=workspace_id,
        kind="effectiveness",
        last=split,
        zone=zone,
        params=f"{within_days}:{whole.start.isoformat()}",
        model=reports.EffectivenessReport,
        compute=settled_part,
        # A payment dated up to `within_days` after the split still decides whether a reminder before it counts.
        checked_until=end_of_day(split + timedelta(days=within_days), zone),
    )
    if split == whole.end:
        return closed
    recent = await reports.reminder_effectiveness(
        session,
        within_days=within_days,
        start=split + timedelta(days=1),
        end=whole.end,
        zone=zone,
        workspace_id=workspace_id,
    )
    steps: dict[int, tuple[int, int]] = {}
    for row in [*closed.rows, *recent.rows]:
        reminded, paid = steps.get(row.step, (0, 0))
        steps[row.step] = (reminded + row.reminded, paid + row.paid_within)
    rows = [
        reports.EffectivenessRow(
            step=step, reminded=reminded, paid_within=paid, share_paid=round(paid / reminded, 4) if reminded else 0.0
        )
        for step, (reminded, paid) in sorted(steps.items())
    ]
    return whole.model_copy(update={"rows": rows})
