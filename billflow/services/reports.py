"""Receivables reports: aging, cash collected, days sales outstanding, top overdue clients, reminder effectiveness.

The figures come from SQL aggregates (billflow.repositories.report_sql); this module fixes the definitions
(periods, cut-off instants, the DSO formula) and shapes the rows into models that the API, CLI and CSV share.
Each report reads through a SQLAlchemy session (the API, the staff app) or a report_sql.RowSource (the CLI's
psycopg connection, starter/reads.py): the same SQL and the same figures, and this module imports no SQLAlchemy.
Every report is one workspace's (issue 13): the API's key's; the staff app and the CLI read the first one's.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping, Sequence
from datetime import date, timedelta
from typing import TYPE_CHECKING, Annotated, Any

from pydantic import AfterValidator, BaseModel

from billflow.reporting import days_past_due, end_of_day, start_of_day, today_in, zone_of
from billflow.repositories import report_sql
from billflow.repositories.report_sql import Query, RowSource
from models.enums import Grain
from models.workspace_ids import DEFAULT_WORKSPACE_ID

if TYPE_CHECKING:
    from sqlmodel.ext.asyncio.session import AsyncSession


async def _fetch(session: AsyncSession | RowSource, query: Query) -> Sequence[Mapping[str, Any]]:
    """The query's rows, from the CLI's psycopg connection or through a session (the API, the staff app)."""
    if isinstance(session, RowSource):
        return await session.fetch(query)
    from billflow.repositories import reports as reports_repo  # SQLAlchemy: imported by the session path only

    return [dict(row._mapping) for row in await reports_repo.fetch(session, query)]


# Report dates outside this range are typing mistakes; bounding them also keeps date arithmetic from overflowing.
EARLIEST_DAY, LATEST_DAY = date(1970, 1, 1), date(2999, 12, 31)


def check_report_day(value: date) -> date:
    if not EARLIEST_DAY <= value <= LATEST_DAY:
        raise ValueError(f"date must be between {EARLIEST_DAY} and {LATEST_DAY}")
    return value


ReportDay = Annotated[date, AfterValidator(check_report_day)]


def _days(*values: date | None) -> None:
    for value in values:
        if value is not None:
            check_report_day(value)


# --- aging ----------------------------------------------------------------------------------------


class AgingRow(BaseModel):
    currency: str
    current_minor: int
    days_1_30_minor: int
    days_31_60_minor: int
    days_61_90_minor: int
    over_90_minor: int
    total_minor: int
    invoice_count: int


class AgingReport(BaseModel):
    """Open balances at the end of `as_of` by days past due: current (not yet due), 1-30, 31-60, 61-90, 90+."""

    as_of: date
    rows: list[AgingRow]


async def aging(
    session: AsyncSession | RowSource,
    *,
    as_of: date | None = None,
    zone: str = "UTC",
    workspace_id: int = DEFAULT_WORKSPACE_ID,
) -> AgingReport:
    _days(as_of)
    day = as_of or today_in(zone)
    query = report_sql.aging_by_currency(workspace_id=workspace_id, as_of=day, cutoff=end_of_day(day, zone), zone=zone)
    return AgingReport(as_of=day, rows=[AgingRow.model_validate(r) for r in await _fetch(session, query)])


# --- cash collected -------------------------------------------------------------------------------


class CashRow(BaseModel):
    period: date
    currency: str
    received_minor: int
    refunded_minor: int
    net_minor: int
    payment_count: int
    refund_count: int


class CashReport(BaseModel):
    """Money received (refunds negative) per period, by the payment's receipt instant in `time_zone`."""

    grain: Grain
    start: date
    end: date
    time_zone: str
    rows: list[CashRow]


DEFAULT_CASH_SPAN = {Grain.day: 30, Grain.week: 7 * 12, Grain.month: 365}


def cash_span(grain: Grain, start: date | None, end: date | None, time_zone: str) -> CashReport:
    """The days a cash report covers (an empty report of them); ValueError for a bad range or zone."""
    _days(start, end)
    zone_of(time_zone)
    last = end or today_in(time_zone)
    first = start or last - timedelta(days=DEFAULT_CASH_SPAN[grain] - 1)
    if first > last:
        raise ValueError("start must not be after end")
    return CashReport(grain=grain, start=first, end=last, time_zone=time_zone, rows=[])


async def cash_collected(
    session: AsyncSession | RowSource,
    *,
    grain: Grain = Grain.month,
    start: date | None = None,
    end: date | None = None,
    time_zone: str = "UTC",
    workspace_id: int = DEFAULT_WORKSPACE_ID,
) -> CashReport:
    """Between start and end inclusive (default: the last 30 days, 12 weeks or 12 months up to today)."""
    span = cash_span(grain, start, end, time_zone)
    first, last = span.start, span.end
    query = report_sql.cash_collected(
        workspace_id=workspace_id,
        grain=grain.value,
        start=start_of_day(first, time_zone),
        end=end_of_day(last, time_zone),
        time_zone=time_zone,
    )
    return CashReport(
        grain=grain,
        start=first,
        end=last,
        time_zone=time_zone,
        rows=[CashRow.model_validate(r) for r in await _fetch(session, query)],
    )


# --- days sales outstanding -----------------------------------------------------------------------


class DsoRow(BaseModel):
    currency: str
    receivable_minor: int
    sales_minor: int
    dso_days: float | None  # None: nothing invoiced in the period


class DsoReport(BaseModel):
    """DSO = receivables at the end of `as_of` / invoiced in the `days` up to it (void excluded) x `days`."""

    as_of: date
    days: int
    rows: list[DsoRow]


async def days_sales_outstanding(
    session: AsyncSession | RowSource,
    *,
    as_of: date | None = None,
    days: int = 90,
    zone: str = "UTC",
    receivable_as_of: AgingReport | None = None,
    workspace_id: int = DEFAULT_WORKSPACE_ID,
) -> DsoReport:
    """`receivable_as_of`: the aging of the same day when the caller has it already (the overview)."""
    if not 1 <= days <= 3660:
        raise ValueError("days must be between 1 and 3660")
    _days(as_of)
    day = as_of or today_in(zone)
    if receivable_as_of is None or receivable_as_of.as_of != day:
        receivable_as_of = await aging(session, as_of=day, zone=zone, workspace_id=workspace_id)
    receivable = {r.currency: r.total_minor for r in receivable_as_of.rows}
    sales_query = report_sql.credit_sales(
        workspace_id=workspace_id,
        start=start_of_day(day - timedelta(days=days - 1), zone),
        end=end_of_day(day, zone),
    )
    sales = {r["currency"]: int(r["sales_minor"]) for r in await _fetch(session, sales_query)}
    rows = []
    for currency in sorted(receivable.keys() | sales.keys()):
        owed, sold = receivable.get(currency, 0), sales.get(currency, 0)
        dso = round(owed / sold * days, 1) if sold > 0 else None
        rows.append(DsoRow(currency=currency, receivable_minor=owed, sales_minor=sold, dso_days=dso))
    return DsoReport(as_of=day, days=days, rows=rows)


# --- top overdue clients --------------------------------------------------------------------------


class OverdueClientRow(BaseModel):
    client_id: int
    external_id: str
    name: str
    email: str
    currency: str
    overdue_minor: int
    invoice_count: int
    oldest_days_past_due: int


class TopOverdueReport(BaseModel):
    as_of: date
    rows: list[OverdueClientRow]


async def top_overdue_clients(
    session: AsyncSession | RowSource,
    *,
    as_of: date | None = None,
    limit: int = 10,
    zone: str = "UTC",
    workspace_id: int = DEFAULT_WORKSPACE_ID,
) -> TopOverdueReport:
    if not 1 <= limit <= 500:
        raise ValueError("limit must be between 1 and 500")
    _days(as_of)
    day = as_of or today_in(zone)
    query = report_sql.top_overdue_clients(
        workspace_id=workspace_id, as_of=day, cutoff=end_of_day(day, zone), zone=zone, limit=limit
    )
    rows = await _fetch(session, query)
    return TopOverdueReport(as_of=day, rows=[OverdueClientRow.model_validate(r) for r in rows])


# --- reminder effectiveness -----------------------------------------------------------------------


class EffectivenessRow(BaseModel):
    step: int
    reminded: int
    paid_within: int
    share_paid: float  # paid_within / reminded, 0..1


class EffectivenessReport(BaseModel):
    """Per reminder step: the share of reminded invoices paid within `within_days` of that reminder."""

    within_days: int
    start: date
    end: date
    rows: list[EffectivenessRow]


def effectiveness_span(within_days: int, start: date | None, end: date | None, zone: str) -> EffectivenessReport:
    """The days an effectiveness report covers (an empty report of them); ValueError for a bad range."""
    if not 1 <= within_days <= 365:
        raise ValueError("within_days must be between 1 and 365")
    _days(start, end)
    last = end or today_in(zone)
    first = start or last - timedelta(days=179)
    if first > last:
        raise ValueError("start must not be after end")
    return EffectivenessReport(within_days=within_days, start=first, end=last, rows=[])


async def reminder_effectiveness(
    session: AsyncSession | RowSource,
    *,
    within_days: int = 7,
    start: date | None = None,
    end: date | None = None,
    zone: str = "UTC",
    workspace_id: int = DEFAULT_WORKSPACE_ID,
) -> EffectivenessReport:
    span = effectiveness_span(within_days, start, end, zone)
    first, last = span.start, span.end
    query = report_sql.reminder_effectiveness(
        workspace_id=workspace_id, within_days=within_days, start=start_of_day(first, zone), end=end_of_day(last, zone)
    )
    rows = await _fetch(session, query)
    return EffectivenessReport(
        within_days=within_days,
        start=first,
        end=last,
        rows=[
            EffectivenessRow(
                step=r["step"],
                reminded=r["reminded"],
                paid_within=r["paid_within"],
                share_paid=round(r["paid_within"] / r["reminded"], 4) if r["reminded"] else 0.0,
            )
            for r in rows
        ],
    )


# --- dashboard ------------------------------------------------------------------------------------


class DashboardInvoice(BaseModel):
    number: str
    status: str
    currency: str
    total_minor: int
    amount_paid_minor: int
    balance_minor: int
    due_date: date
    days_past_due: int
    reminders_paused: bool
    client_name: str
    client_external_id: str


class DashboardSummary(BaseModel):
    """What the staff dashboard shows: aging totals per currency, overdue invoices, invoices due soon."""

    today: date
    due_soon_days: int
    aging: AgingReport
    overdue: list[DashboardInvoice]
    due_soon: list[DashboardInvoice]


async def dashboard(
    session: AsyncSession | RowSource,
    *,
    today: date | None = None,
    due_soon_days: int = 7,
    limit: int = 50,
    zone: str = "UTC",
    workspace_id: int = DEFAULT_WORKSPACE_ID,
) -> DashboardSummary:
    day = today or today_in(zone)
    overdue = await _fetch(
        session,
        report_sql.unsettled_invoices(
            workspace_id=workspace_id, due_from=None, due_to=None, overdue_only=True, limit=limit
        ),
    )
    # Due soon: the due instant falls in today or one of the next `due_soon_days` reporting-zone days.
    soon = await _fetch(
        session,
        report_sql.unsettled_invoices(
            workspace_id=workspace_id,
            due_from=start_of_day(day, zone),
            due_to=end_of_day(day + timedelta(days=due_soon_days), zone),
            overdue_only=False,
            limit=limit,
        ),
    )

    def shaped(rows: Sequence[Mapping[str, Any]]) -> list[DashboardInvoice]:
        return [
            DashboardInvoice.model_validate({**r, "days_past_due": days_past_due(r["due_at"], as_of=day, zone=zone)})
            for r in rows
        ]

    return DashboardSummary(
        today=day,
        due_soon_days=due_soon_days,
        aging=await aging(session, as_of=day, zone=zone),
        overdue=shaped(overdue),
        due_soon=shaped([r for r in soon if r["status"] != "overdue"]),
    )


# --- CSV ------------------------------------------------------------------------------------------

Report = AgingReport | CashReport | DsoReport | TopOverdueReport | EffectivenessReport


def to_csv(report: Report) -> str:
    """The report's rows as CSV with a header line; amounts stay in minor units (exact, no rounding)."""
    buffer = io.StringIO()
    fields = list(type(report.rows[0]).model_fields) if report.rows else _row_fields(report)
    writer = csv.DictWriter(buffer, fieldnames=fields, lineterminator="\n")
    writer.writeheader()
    for row in report.rows:
        writer.writerow(row.model_dump(mode="json"))
    return buffer.getvalue()


def _row_fields(report: Report) -> list[str]:
    annotation = type(report).model_fields["rows"].annotation
    row_type = annotation.__args__[0]  # type: ignore[union-attr]
    return list(row_type.model_fields)
