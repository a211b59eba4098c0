"""`billflow catalog add|list|remove`: the prices of booked event types (Cal.com event type slug or id)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import typer
from rich.markup import escape
from rich.table import Table

from models.workspace_ids import DEFAULT_WORKSPACE_ID
from starter.common import JsonOption, LazyModule, console, database, fail, format_money, print_json, run

if TYPE_CHECKING:
    from billflow.services import catalog
    from models.service_catalog import CatalogEntryOut
else:  # imported by `add` and `remove`: `catalog list` reads through psycopg alone (issue 11, item 15)
    catalog = LazyModule("billflow.services.catalog")

app = typer.Typer(no_args_is_help=True)


@app.command("add")
def add(
    event_type: str = typer.Argument(..., help="Cal.com event type slug (e.g. '60min') or numeric id (e.g. '7')."),
    service_name: str = typer.Option(..., "--name", help="The service as it appears on the invoice line."),
    unit_price_minor: int = typer.Option(..., "--price", help="Unit price in minor units (9000 = 90.00)."),
    currency: str = typer.Option(..., "--currency", help="ISO 4217 code, e.g. GBP."),
    tax_rate_bp: int = typer.Option(0, "--tax-bp", help="Tax rate in basis points (2000 = 20 %)."),
    as_json: bool = JsonOption,
) -> None:
    """Add an event type's price, or replace the one it has."""

    from models.service_catalog import CatalogEntryIn

    async def go() -> CatalogEntryOut:
        entry = CatalogEntryIn(
            event_type=event_type,
            service_name=service_name,
            unit_price_minor=unit_price_minor,
            currency=currency,
            tax_rate_bp=tax_rate_bp,
        )
        async with database() as db:
            return await catalog.add_entry(db, entry)

    saved = run(go())
    if as_json:
        print_json(saved)
        return
    console.print(
        f"[bold]{escape(saved.event_type)}[/] -> {escape(saved.service_name)}, "
        f"{format_money(saved.unit_price_minor, saved.currency)} (tax {saved.tax_rate_bp / 100:g} %)"
    )


@app.command("list")
def list_(as_json: bool = JsonOption) -> None:
    """List the catalog."""
    from starter import reads
    from starter.reads import admin

    with reads.connection() as conn:
        rows = admin.catalog_entries(conn, workspace_id=DEFAULT_WORKSPACE_ID)
    if as_json:
        print_json(admin.as_json(rows))
        return
    print_catalog(rows)


def print_catalog(rows: list[Any]) -> None:
    """Rows or CatalogEntryOut models: the same attribute names."""
    table = Table("event type", "service", "unit price", "tax", "updated (UTC)", title="Service catalog")
    for row in rows:
        table.add_row(
            escape(row.event_type),
            escape(row.service_name),
            format_money(row.unit_price_minor, row.currency),
            f"{row.tax_rate_bp / 100:g} %",
            f"{row.updated_at:%Y-%m-%d %H:%M}",
        )
    console.print(table)


@app.command("remove")
def remove(event_type: str = typer.Argument(..., help="The event type slug or id to remove.")) -> None:
    """Remove an event type's price (its later bookings fall back to Cal.com's own price)."""

    async def go() -> None:
        async with database() as db:
            await catalog.remove_entry(db, event_type)

    try:
        run(go())
    except catalog.CatalogEntryNotFound as err:
        fail(str(err))
    console.print(f"Removed {escape(event_type)} from the catalog.")
