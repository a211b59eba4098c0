"""`billflow report aging|cash|dso|top-overdue|effectiveness`: the receivables reports as tables, JSON or CSV.

They read through psycopg alone (starter/reads.py's ReportRows): the report service and its SQL are the API's
(billflow/services/reports.py, billflow/repositories/report_sql.py), without SQLAlchemy (issue 11, item 15).
"""

from __future__ import annotations

import sys
from collections.abc import Awaitable, Callable, Sequence
from datetime import date, datetime
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape
from rich.table import Table

from models.enums import Grain
from starter.common import (
    JsonOption,
    LazyModule,
    console,
    fail,
    format_money,
    get_settings,
    print_json,
    run,
)

if TYPE_CHECKING:
    from billflow.repositories.report_sql import RowSource
    from billflow.services import reports as reports_service
    from billflow.services.reports import Report
else:  # imported when a report runs, not for --help (issue 11, item 15)
    reports_service = LazyModule("billflow.services.reports")


app = typer.Typer(no_args_is_help=True)

CsvOption = typer.Option(False, "--csv", help="Print the rows as CSV (amounts in minor units).")
AsOfOption = Annotated[
    datetime | None,
    typer.Option("--as-of", formats=["%Y-%m-%d"], help="At the end of this day (reporting time zone); default today."),
]
StartOption = Annotated[datetime | None, typer.Option(formats=["%Y-%m-%d"], help="First day, inclusive.")]
EndOption = Annotated[datetime | None, typer.Option(formats=["%Y-%m-%d"], help="Last day, inclusive; default today.")]


async def _zone(rows: RowSource) -> str:
    """The first workspace's reporting time zone (its profile: the CLI's reports are that workspace's), else the
    installation's."""
    from billflow.repositories.report_sql import Query
    from models.workspace_ids import DEFAULT_WORKSPACE_ID

    found = await rows.fetch(
        Query("SELECT reporting_timezone FROM workspaces WHERE id = :id", {"id": DEFAULT_WORKSPACE_ID}, settings=())
    )
    return str(found[0]["reporting_timezone"]) if found else get_settings().reporting_timezone


def _day(value: datetime | None) -> date | None:
    return value.date() if value else None


def _emit(
    compute: Callable[[RowSource, str], Awaitable[Report]],
    render: Callable[[Report], None],
    *,
    as_json: bool,
    as_csv: bool,
) -> None:
    """Compute the report on one read-only connection, then print it in the requested form."""
    from starter import reads

    if as_json and as_csv:
        fail("choose one of --json and --csv", code=2)

    async def main(rows: RowSource) -> Report:
        try:
            return await compute(rows, await _zone(rows))
        except ValueError as err:
            fail(str(err), code=2)

    with reads.connection() as conn:
        report = run(main(reads.ReportRows(conn)))
    if as_json:
        print_json(report)
    elif as_csv:
        sys.stdout.write(reports_service.to_csv(report))
    else:
        render(report)


def _money_columns(table: Table, *names: str) -> None:
    for name in names:
        table.add_column(name, justify="right")


# --- aging ----------------------------------------------------------------------------------------


@app.command()
def aging(as_of: AsOfOption = None, as_json: bool = JsonOption, as_csv: bool = CsvOption) -> None:
    """Open balances by currency and days past due: current, 1-30, 31-60, 61-90, over 90."""
    _emit(
        lambda s, zone: reports_service.aging(s, as_of=_day(as_of), zone=zone),
        _render_aging,
        as_json=as_json,
        as_csv=as_csv,
    )


def _render_aging(report: Report) -> None:
    assert isinstance(report, reports_service.AgingReport)
    table = Table(title=f"Receivables aging as of {report.as_of}", header_style="bold")
    table.add_column("Currency")
    _money_columns(table, "Current", "1-30", "31-60", "61-90", "Over 90", "Total", "Invoices")
    for r in report.rows:
        money = lambda minor, c=r.currency: format_money(minor, c)  # noqa: E731
        table.add_row(
            r.currency,
            money(r.current_minor),
            money(r.days_1_30_minor),
            money(r.days_31_60_minor),
            money(r.days_61_90_minor),
            f"[bold red]{money(r.over_90_minor)}[/]" if r.over_90_minor else money(0),
            f"[bold]{money(r.total_minor)}[/]",
            str(r.invoice_count),
        )
    _print(table, report.rows)


# --- cash collected -------------------------------------------------------------------------------


@app.command()
def cash(
    grain: Annotated[Grain, typer.Option(help="Period length.")] = Grain.month,
    start: StartOption = None,
    end: EndOption = None,
    tz: Annotated[
        str | None, typer.Option(help="IANA time zone the periods are cut in; default BILLFLOW_REPORTING_TIMEZONE.")
    ] = None,
    as_json: bool = JsonOption,
    as_csv: bool = CsvOption,
) -> None:
    """Cash collected per day, week or month; refunds count negative."""
    _emit(
        lambda s, zone: reports_service.cash_collected(
            s, grain=grain, start=_day(start), end=_day(end), time_zone=tz or zone
        ),
        _render_cash,
        as_json=as_json,
        as_csv=as_csv,
    )


def _render_cash(report: Report) -> None:
    assert isinstance(report, reports_service.CashReport)
    title = f"Cash collected per {report.grain.value}, {report.start} to {report.end} ({report.time_zone})"
    table = Table(title=title, header_style="bold")
    table.add_column("Period")
    table.add_column("Currency")
    _money_columns(table, "Received", "Refunded", "Net", "Payments", "Refunds")
    for r in report.rows:
        table.add_row(
            r.period.isoformat(),
            r.currency,
            format_money(r.received_minor, r.currency),
            format_money(-r.refunded_minor, r.currency) if r.refunded_minor else "",
            f"[bold]{format_money(r.net_minor, r.currency)}[/]",
            str(r.payment_count),
            str(r.refund_count or ""),
        )
    _print(table, report.rows)


# --- DSO ------------------------------------------------------------------------------------------


@app.command()
def dso(
    as_of: AsOfOption = None,
    days: Annotated[int, typer.Option(min=1, max=3660, help="Length of the sales period in days.")] = 90,
    as_json: bool = JsonOption,
    as_csv: bool = CsvOption,
) -> None:
    """Days sales outstanding: receivables / sales in the period x its days, per currency."""
    _emit(
        lambda s, zone: reports_service.days_sales_outstanding(s, as_of=_day(as_of), days=days, zone=zone),
        _render_dso,
        as_json=as_json,
        as_csv=as_csv,
    )


def _render_dso(report: Report) -> None:
    assert isinstance(report, reports_service.DsoReport)
    table = Table(title=f"Days sales outstanding as of {report.as_of} ({report.days}-day period)", header_style="bold")
    table.add_column("Currency")
    _money_columns(table, "Receivables", f"Sales ({report.days} d)", "DSO (days)")
    for r in report.rows:
        table.add_row(
            r.currency,
            format_money(r.receivable_minor, r.currency),
            format_money(r.sales_minor, r.currency),
            "n/a" if r.dso_days is None else f"[bold]{r.dso_days:.1f}[/]",
        )
    _print(table, report.rows)


# --- top overdue clients --------------------------------------------------------------------------


@app.command("top-overdue")
def top_overdue(
    as_of: AsOfOption = None,
    limit: Annotated[int, typer.Option(min=1, max=500, help="How many clients.")] = 10,
    as_json: bool = JsonOption,
    as_csv: bool = CsvOption,
) -> None:
    """The clients with the largest balances past due."""
    _emit(
        lambda s, zone: reports_service.top_overdue_clients(s, as_of=_day(as_of), limit=limit, zone=zone),
        _render_top_overdue,
        as_json=as_json,
        as_csv=as_csv,
    )


def _render_top_overdue(report: Report) -> None:
    assert isinstance(report, reports_service.TopOverdueReport)
    table = Table(title=f"Top overdue clients as of {report.as_of}", header_style="bold")
    table.add_column("Client")
    table.add_column("External id")
    _money_columns(table, "Overdue", "Invoices", "Oldest (days)")
    for r in report.rows:
        table.add_row(
            escape(r.name),
            escape(r.external_id),
            f"[bold red]{format_money(r.overdue_minor, r.currency)}[/]",
            str(r.invoice_count),
            str(r.oldest_days_past_due),
        )
    _print(table, report.rows)


# --- reminder effectiveness -----------------------------------------------------------------------


@app.command()
def effectiveness(
    within_days: Annotated[int, typer.Option(min=1, max=365, help="Paid within this many days of a reminder.")] = 7,
    start: StartOption = None,
    end: EndOption = None,
    as_json: bool = JsonOption,
    as_csv: bool = CsvOption,
) -> None:
    """Per reminder step: how many invoices were paid within N days of it."""
    _emit(
        lambda s, zone: reports_service.reminder_effectiveness(
            s, within_days=within_days, start=_day(start), end=_day(end), zone=zone
        ),
        _render_effectiveness,
        as_json=as_json,
        as_csv=as_csv,
    )


def _render_effectiveness(report: Report) -> None:
    assert isinstance(report, reports_service.EffectivenessReport)
    title = f"Paid within {report.within_days} days of each reminder ({report.start} to {report.end})"
    table = Table(title=title, header_style="bold")
    table.add_column("Step", justify="right")
    _money_columns(table, "Reminded", "Paid within", "Share")
    for r in report.rows:
        table.add_row(str(r.step), str(r.reminded), str(r.paid_within), f"[bold]{r.share_paid:.0%}[/]")
    _print(table, report.rows)


def _print(table: Table, rows: Sequence[object]) -> None:
    if rows:
        console.print(table)
    else:
        console.print(f"[dim]{table.title}: nothing to report.[/]")
