"""`billflow interest ...`: reference rates (list, set), a quote for an invoice, and the interest invoice."""

from __future__ import annotations

from datetime import date, datetime
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table

from billflow.config import get_settings
from billflow.domain.interest import InterestExcluded, MissingReferenceRate, Preset, ReferenceRateName
from models.money import format_money
from starter.common import JsonOption, LazyModule, console, database, fail, print_json, run, temporal_client

if TYPE_CHECKING:
    from billflow.services import interest as interest_service
else:  # imported when a command that writes or quotes runs: `rates list` reads through psycopg (issue 11, item 15)
    interest_service = LazyModule("billflow.services.interest")

app = typer.Typer(no_args_is_help=True)
rates_app = typer.Typer(no_args_is_help=True)
app.add_typer(rates_app, name="rates", help="Reference rates by six-month period: list, set.")

NumberArg = Annotated[str, typer.Argument(help="Invoice number, e.g. INV-2026-000042.")]
PresetOption = Annotated[Preset, typer.Option(help="Which law (or the contract) sets the rate.")]
DateOption = Annotated[datetime | None, typer.Option(formats=["%Y-%m-%d"], help="Accrue up to this day (inclusive).")]


@rates_app.command("list")
def list_rates(
    rate: Annotated[ReferenceRateName | None, typer.Option(help="Only this reference rate.")] = None,
    as_json: bool = JsonOption,
) -> None:
    """Every reference rate period entered, with its source."""
    from starter import reads
    from starter.reads import interest as interest_reads

    with reads.connection() as conn:
        rows = interest_reads.rates(conn, rate=rate.value if rate else None)
    if as_json:
        from starter.reads import admin

        print_json(admin.as_json(rows))
        return
    print_rates(rows)


def print_rates(rows: list[Any]) -> None:
    """Rows or ReferenceRate models: the same attribute names."""
    table = Table("Rate", "From", "To", "Rate %", "Source", title="Reference rates", header_style="bold")
    for r in rows:
        table.add_row(r.rate, str(r.valid_from), str(r.valid_to or ""), f"{r.rate_bp / 100:.2f}", r.source)
    console.print(table)


@rates_app.command("set")
def set_rate(
    rate: Annotated[ReferenceRateName, typer.Argument(help="ecb_mro, de_basiszins or boe_base.")],
    valid_from: Annotated[datetime, typer.Option("--from", formats=["%Y-%m-%d"], help="First day of the period.")],
    percent: Annotated[float, typer.Option("--percent", help="The rate in percent, e.g. 2.15 (may be negative).")],
    source: Annotated[str, typer.Option(help="Where it was published (URL or gazette).")],
    valid_to: Annotated[
        datetime | None, typer.Option("--to", formats=["%Y-%m-%d"], help="Last day; default: six months on.")
    ] = None,
    as_json: bool = JsonOption,
) -> None:
    """Enter (or correct) a reference rate for a period."""
    run(_set(rate, valid_from.date(), round(percent * 100), source, valid_to.date() if valid_to else None, as_json))


async def _set(
    rate: ReferenceRateName, valid_from: date, rate_bp: int, source: str, valid_to: date | None, as_json: bool
) -> None:
    async with database() as db:
        try:
            row = await interest_service.set_rate(
                db, rate=rate, valid_from=valid_from, rate_bp=rate_bp, source=source, valid_to=valid_to
            )
        except interest_service.RateInvalid as err:
            fail(str(err), code=2)
    if as_json:
        print_json(row)
        return
    console.print(f"{row.rate} {row.rate_bp / 100:.2f} % from {row.valid_from} to {row.valid_to} ({row.source})")


@app.command()
def quote(
    number: NumberArg,
    preset: PresetOption,
    until: DateOption = None,
    consumer: Annotated[bool, typer.Option(help="The client is a consumer (B2B presets then do not apply).")] = False,
    rate_percent: Annotated[float | None, typer.Option(help="Contractual preset: the agreed annual rate.")] = None,
    fee: Annotated[int, typer.Option(help="Contractual preset: the agreed fee, minor units.")] = 0,
    issue: Annotated[bool, typer.Option(help="Issue the interest invoice (once per invoice and end day).")] = False,
    as_json: bool = JsonOption,
) -> None:
    """Interest and compensation owed on a late invoice; with --issue, the separate interest invoice."""
    run(_quote(number, preset, until, consumer, rate_percent, fee, issue, as_json))


async def _quote(
    number: str,
    preset: Preset,
    until: datetime | None,
    consumer: bool,
    rate_percent: float | None,
    fee: int,
    issue: bool,
    as_json: bool,
) -> None:
    settings = get_settings()
    async with database(settings) as db:
        try:
            found = await interest_service.quote_for_invoice(
                db,
                number=number,
                preset=preset,
                until=until.date() if until else None,
                consumer=consumer,
                contractual_rate_bp=round(rate_percent * 100) if rate_percent is not None else None,
                agreed_fee_minor=fee,
            )
            issued = None
            if issue:
                client = await temporal_client(settings)
                issued = await interest_service.issue_interest_invoice(
                    db, client, number=number, task_queue=settings.task_queue, quote=found.quote
                )
        except interest_service.InvoiceNotFound as err:
            fail(str(err))
        except (InterestExcluded, MissingReferenceRate, ValueError) as err:
            fail(str(err))
    q = found.quote
    if as_json:
        print_json(
            {
                "number": number,
                "preset": q.preset.value,
                "currency": q.currency,
                "due_date": q.due_date.isoformat(),
                "until": q.until.isoformat(),
                "interest_minor": q.interest_minor,
                "compensation_minor": q.compensation_minor,
                "segments": [
                    {
                        "from": s.first_day.isoformat(),
                        "to": s.last_day.isoformat(),
                        "days": s.days,
                        "principal_minor": s.principal_minor,
                        "rate_bp": s.rate_bp,
                    }
                    for s in q.segments
                ],
                "interest_invoice_workflow_id": issued,
            }
        )
        return
    table = Table("From", "To", "Days", "Balance", "Rate %", title=f"Interest on {number} ({q.preset.value})")
    for s in q.segments:
        table.add_row(
            str(s.first_day),
            str(s.last_day),
            str(s.days),
            format_money(s.principal_minor, q.currency),
            f"{s.rate_bp / 100:.2f}",
        )
    console.print(table)
    console.print(
        f"Interest {format_money(q.interest_minor, q.currency)}, compensation "
        f"{format_money(q.compensation_minor, q.currency)}, total {format_money(q.total_minor, q.currency)}"
    )
    if issued:
        console.print(f"Interest invoice issued: workflow {issued}")
