"""`billflow client list|show|note|settings|documents`: client records, their timeline, reminder settings and
the document format they receive."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from models.document_formats import DocumentFormat
from starter import common
from starter.common import (
    JsonOption,
    LazyModule,
    console,
    database,
    fail,
    format_money,
    get_settings,
    print_json,
    run,
    temporal_client,
)

if TYPE_CHECKING:
    from billflow.services import clients as clients_service
    from models import workflow_io
else:  # imported when a command runs: `--help` loads typer and rich only (issue 11, item 15)
    clients_service = LazyModule("billflow.services.clients")
    workflow_io = LazyModule("models.workflow_io")

app = typer.Typer(no_args_is_help=True)

ExternalIdArg = Annotated[str, typer.Argument(help="The client's id in the booking system.")]
SourceOption = Annotated[
    str | None,
    typer.Option(
        "--source", help='Whose client ("staff", "integration:NAME"); needed when several sources use the id.'
    ),
]


@app.command("list")
def list_clients(
    query: Annotated[str | None, typer.Option("--query", "-q", help="Part of the name, email or id.")] = None,
    limit: Annotated[int, typer.Option(min=1, max=1000)] = 50,
    offset: Annotated[int, typer.Option(min=0)] = 0,
    as_json: bool = JsonOption,
) -> None:
    """Clients by name, with their open balances."""
    from starter import reads  # psycopg alone (issue 11, item 15)
    from starter.reads import client_records as client_reads

    with reads.connection() as conn:  # the service's ClientSummary rows: every column and balance
        clients = client_reads.client_summaries(
            conn, query=query, limit=limit, offset=offset, due_before=_end_of_reporting_day()
        )
    if as_json:
        from pydantic_core import to_jsonable_python

        print_json(to_jsonable_python(clients))  # what their model_dump(mode="json") gives
        return
    table = Table(title=f"Clients ({len(clients)})", header_style="bold")
    for column in ("External id", "Name", "Email", "Open balance", "Overdue"):
        table.add_column(column, justify="right" if column in ("Open balance", "Overdue") else "left")
    for c in clients:
        balances = c["balances"]
        overdue = [f"[red]{format_money(b['overdue_minor'], b['currency'])}[/]" for b in balances if b["overdue_minor"]]
        table.add_row(
            escape(c["external_id"]),
            escape(c["name"]),
            escape(c["email"]) + (" [red](bounced)[/]" if c["email_bounced"] else ""),
            "\n".join(format_money(b["balance_minor"], b["currency"]) for b in balances) or "-",
            "\n".join(overdue) or "-",
        )
    console.print(table)


def _end_of_reporting_day() -> datetime:
    """Past due: before today ends in the reporting zone (the reports' and services.clients' cut-off)."""
    from billflow.reporting import end_of_day, today_in

    zone = common.get_settings().reporting_timezone  # through the module: tests replace it there
    return end_of_day(today_in(zone), zone)


@app.command()
def show(
    external_id: ExternalIdArg,
    limit: Annotated[int, typer.Option(min=1, max=1000, help="Timeline entries to show.")] = 30,
    source: SourceOption = None,
    as_json: bool = JsonOption,
) -> None:
    """Contact, balances, reminder settings, invoices, payments and the merged timeline."""
    from starter import reads
    from starter.reads import client_records as client_reads

    due_before = _end_of_reporting_day()
    with reads.connection() as conn, common.validation_failures():  # psycopg alone (issue 11, item 15)
        try:
            detail = client_reads.client_detail(
                conn, external_id=external_id, source=source, due_before=due_before, timeline_limit=limit
            )
        except client_reads.NoSuchClient as err:
            fail(str(err))
    if as_json:
        from pydantic_core import to_jsonable_python

        print_json(to_jsonable_python(detail))  # the service's ClientDetail and timeline, model_dump(mode="json")
        return
    print_client(detail)


def print_client(detail: dict[str, Any]) -> None:
    """`client show`'s text from client_detail's dict (the keys of the service's models' model_dump())."""
    console.print(
        f"[bold]{escape(detail['name'])}[/] <{escape(detail['email'])}>  {escape(detail['external_id'])}"
        f"  [dim]({escape(detail['source'])})[/]"
    )
    console.print(f"Time zone {detail['timezone']}" + ("  [red]email bounced[/]" if detail["email_bounced"] else ""))
    for b in detail["balances"]:
        currency = b["currency"]
        console.print(
            f"{currency}: open {format_money(b['balance_minor'], currency)}"
            f" (overdue {format_money(b['overdue_minor'], currency)}),"
            f" invoiced {format_money(b['invoiced_minor'], currency)}, paid {format_money(b['paid_minor'], currency)}"
        )
    s = detail["settings"]
    policy = "own policy" if s["reminder_policy"] else "default policy"
    console.print(
        f"Reminders: {'[yellow]paused[/]' if s['reminders_paused'] else 'active'}, {policy}"
        + (", auto-pay (no reminders)" if s["auto_pay"] else "")
    )
    invoices = Table("Number", "Status", "Total", "Balance", "Due", title="Invoices", header_style="bold")
    for i in detail["invoices"]:
        invoices.add_row(
            i["number"],
            i["status"],
            format_money(i["total_minor"], i["currency"]),
            format_money(i["balance_minor"], i["currency"]),
            i["due_date"].isoformat(),
        )
    console.print(invoices)
    events = Table("When (UTC)", "What", "Invoice", "Detail", title="Timeline (newest first)", header_style="bold")
    for t in detail["timeline"]:
        amount = (
            f" {format_money(t['amount_minor'], t['currency'])}"
            if t["amount_minor"] is not None and t["currency"]
            else ""
        )
        state = f" [dim]({t['status']})[/]" if t["status"] else ""
        events.add_row(
            f"{t['at']:%Y-%m-%d %H:%M}", t["kind"], t["invoice_number"] or "", escape(t["message"]) + amount + state
        )
    console.print(events)


@app.command()
def note(
    external_id: ExternalIdArg,
    text: Annotated[str, typer.Argument(help="The note.")],
    author: Annotated[str, typer.Option(help="Who wrote it.")] = "cli",
    source: SourceOption = None,
    as_json: bool = JsonOption,
) -> None:
    """Add a staff note to the client's timeline."""
    run(_note(external_id, text, author, source, as_json))


async def _note(external_id: str, text: str, author: str, source: str | None, as_json: bool) -> None:
    async with database() as db:
        try:
            async with db.session() as session:
                entry = await clients_service.add_note(
                    session, external_id, text=text, author=f"cli:{author}", source=source
                )
        except (clients_service.ClientNotFound, clients_service.AmbiguousClient) as err:
            fail(str(err))
        except ValueError as err:
            fail(str(err), code=2)
    if as_json:
        print_json(entry)
    else:
        console.print(f"Note added to {escape(external_id)}'s timeline.")


@app.command()
def settings(
    external_id: ExternalIdArg,
    pause: Annotated[
        bool | None, typer.Option("--pause/--resume", help="Pause or resume every reminder of the client.")
    ] = None,
    auto_pay: Annotated[bool | None, typer.Option("--auto-pay/--no-auto-pay", help="Auto-pay: no reminders.")] = None,
    policy: Annotated[
        Path | None, typer.Option(exists=True, dir_okay=False, help="A reminder policy JSON file for new invoices.")
    ] = None,
    default_policy: Annotated[bool, typer.Option("--default-policy", help="Back to the default policy.")] = False,
    source: SourceOption = None,
    as_json: bool = JsonOption,
) -> None:
    """Show or change the client's reminder settings; pausing signals each of the client's open invoices."""
    if policy is not None and default_policy:
        fail("choose one of --policy and --default-policy", code=2)
    policy_text = policy.read_text() if policy is not None else None
    if pause is None and auto_pay is None and policy_text is None and not default_policy:
        _show_settings(external_id, source, as_json)  # nothing to change: psycopg alone (issue 11, item 15)
        return
    run(_settings(external_id, pause, auto_pay, policy_text, default_policy, source, as_json))


def _show_settings(external_id: str, source: str | None, as_json: bool) -> None:
    from pydantic_core import to_jsonable_python

    from starter import reads
    from starter.reads import client_records as client_reads

    with reads.connection() as conn:
        try:
            found = client_reads.reminder_settings_of(conn, external_id=external_id, source=source)
        except client_reads.NoSuchClient as err:
            fail(str(err))
    current = to_jsonable_python(found)
    print_json(current) if as_json else console.print(current)


async def _settings(
    external_id: str,
    pause: bool | None,
    auto_pay: bool | None,
    policy_text: str | None,
    default_policy: bool,
    source: str | None,
    as_json: bool,
) -> None:
    policy = None
    if policy_text is not None:
        try:
            policy = workflow_io.ReminderPolicy.model_validate(json.loads(policy_text))
        except json.JSONDecodeError as err:
            fail(f"the policy file is not valid JSON: {err}", code=2)
    change = clients_service.ReminderSettingsChange(
        reminders_paused=pause, auto_pay=auto_pay, reminder_policy=policy, clear_policy=default_policy
    )
    async with database() as db:
        try:
            saved, signals = await clients_service.save_reminder_settings(
                db, external_id, change, actor="cli", source=source
            )
        except (clients_service.ClientNotFound, clients_service.AmbiguousClient) as err:
            fail(str(err))
    # Temporal is needed only when running invoices must be paused or resumed.
    signalled: list[str] = []
    if signals.invoices:
        temporal = await temporal_client(get_settings())
        signalled = await clients_service.signal_reminder_change(temporal, signals, actor="cli")
    outcome = clients_service.SettingsOutcome(settings=saved, signalled=signalled)
    if as_json:
        print_json(outcome)
        return
    console.print(f"Saved: {outcome.settings.model_dump(mode='json', exclude={'reminder_policy'})}")
    if outcome.signalled:
        console.print(f"Signalled {len(outcome.signalled)} open invoice(s): {', '.join(outcome.signalled)}")


@app.command()
def documents(
    external_id: ExternalIdArg,
    format: Annotated[
        DocumentFormat | None, typer.Option("--format", help="What the issue email carries besides the PDF.")
    ] = None,
    buyer_reference: Annotated[
        str | None, typer.Option(help="The buyer reference (BT-10); the Leitweg-ID for XRechnung.")
    ] = None,
    as_json: bool = JsonOption,
) -> None:
    """Show or choose the document format the client receives (pdf, facturx, xrechnung, peppol)."""
    if format is None and buyer_reference is None:  # nothing to change: psycopg alone (issue 11, item 15)
        from starter import reads
        from starter.reads import client_records as client_reads

        with reads.connection() as conn:
            try:
                current = client_reads.document_settings_of(conn, external_id=external_id)
            except client_reads.NoSuchClient as err:
                fail(str(err))
        _print_document_settings(external_id, current, as_json)
        return
    run(_documents(external_id, format, buyer_reference, as_json))


async def _documents(external_id: str, fmt: DocumentFormat | None, buyer_reference: str | None, as_json: bool) -> None:
    from billflow.services import client_documents

    async with database() as db:
        try:
            async with db.session() as session:
                change = client_documents.DocumentSettingsChange(einvoice_format=fmt, buyer_reference=buyer_reference)
                current = await client_documents.update_document_settings(session, external_id, change)
        except clients_service.ClientNotFound as err:
            fail(str(err))
        except client_documents.DocumentSettingsRefused as err:
            fail(str(err), code=2)
    _print_document_settings(external_id, current.model_dump(mode="json"), as_json)


def _print_document_settings(external_id: str, current: dict[str, Any], as_json: bool) -> None:
    """DocumentSettings as the service dumps it, or its row: the same keys."""
    if as_json:
        print_json(current)
        return
    reference = current["buyer_reference"] or "none"
    console.print(f"{escape(external_id)}: {current['einvoice_format']} (buyer reference: {escape(reference)})")


def _register_document_commands() -> None:
    """`client billing` lives with the other document commands (starter/documents.py)."""
    from starter.documents import client_billing

    app.command("billing")(client_billing)


_register_document_commands()
