"""Report figures of closed days, computed once and reused: the overview's six-month DSO trend.

The receivable as of a past day adds back every payment received since (billflow/repositories/reports.py), so a
point six months back reads six months of payments: seconds at a million invoices. A closed day's figures change
only when a row dated before its end is added later (a back-dated payment or credit note, a late-recorded
invoice) or an invoice of the period is voided; `changed_before` looks for exactly those among the rows newer
than the snapshot. A snapshot is also recomputed after MAX_AGE, which bounds any change no check foresees (a
transaction still open while the snapshot's ids were read commits an older id, for instance).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from sqlmodel.ext.asyncio.session import AsyncSession

from billflow.reporting import end_of_day, today_in
from billflow.repositories import report_snapshots as repo
from billflow.services import reports
from models.report_snapshots import ReportSnapshot

MAX_AGE = timedelta(hours=24)


async def days_sales_outstanding(
    session: AsyncSession, *, as_of: date, days: int = 90, zone: str = "UTC"
) -> reports.DsoReport:
    """reports.days_sales_outstanding, from a snapshot for a closed day when it still holds."""
    if as_of >= today_in(zone):  # today is still moving: always computed
        return await reports.days_sales_outstanding(session, as_of=as_of, days=days, zone=zone)
    params = f"days={days}"
    cutoff = end_of_day(as_of, zone)
    stored = await repo.get_snapshot(session, kind="dso", as_of=as_of, zone=zone, params=params)
    fresh = stored is not None and stored.computed_at > datetime.now(UTC) - MAX_AGE
    if stored is not None and fresh and not await repo.changed_before(session, snapshot=stored, cutoff=cutoff):
        return reports.DsoReport.model_validate(stored.payload)
    marks = await repo.high_water_marks(session)  # before computing: a row added meanwhile is checked next time
    computed_at = datetime.now(UTC)
    report = await reports.days_sales_outstanding(session, as_of=as_of, days=days, zone=zone)
    snapshot = ReportSnapshot(
        kind="dso", as_of=as_of, zone=zone, params=params, payload=report.model_dump(mode="json"),
        computed_at=computed_at, **marks,
    )  # fmt: skip
    await repo.save_snapshot(session, snapshot=snapshot)
    return report
