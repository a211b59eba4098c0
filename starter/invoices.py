"""`billflow invoice ...`: create invoices from booking files, list and show them, and the staff actions."""

from __future__ import annotations

import asyncio
import json
import re
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from models.document_formats import FileKind
from models.enums import InvoiceStatus
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
    from billflow.repositories import clients as clients_repo
    from billflow.repositories import invoices as invoices_repo
    from billflow.repositories import messages as messages_repo
    from billflow.repositories import payments as payments_repo
    from billflow.repositories import timeline as timeline_repo
    from models import workflow_io
    from models.workflow_io import InvoicePlan, InvoiceState, StaffAction
    from starter.reads import InvoiceFacts
else:  # imported when a command runs: `--help` loads typer and rich only (issue 11, item 15)
    clients_repo = LazyModule("billflow.repositories.clients")
    invoices_repo = LazyModule("billflow.repositories.invoices")
    messages_repo = LazyModule("billflow.repositories.messages")
    payments_repo = LazyModule("billflow.repositories.payments")
    timeline_repo = LazyModule("billflow.repositories.timeline")
    workflow_io = LazyModule("models.workflow_io")


app = typer.Typer(no_args_is_help=True)

STATUS_STYLE = {
    InvoiceStatus.open: "cyan",
    InvoiceStatus.partially_paid: "yellow",
    InvoiceStatus.paid: "green",
    InvoiceStatus.overdue: "bold red",
    InvoiceStatus.void: "dim",
    InvoiceStatus.uncollectible: "magenta",
    InvoiceStatus.processing: "blue",
    InvoiceStatus.disputed: "bold magenta",
}

NumberArg = Annotated[str, typer.Argument(help="Invoice number, e.g. INV-2026-000042.")]
NoteOption = Annotated[str | None, typer.Option(help="A note kept on the invoice's timeline.")]


def styled_status(status: str) -> str:
    return f"[{STATUS_STYLE.get(InvoiceStatus(status), 'white')}]{status}[/]"


# --- create, list, show -----------------------------------------------------------------------------


@app.command()
def create(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="Booking JSON (see examples/).")],
    workspace: Annotated[
        str | None,
        typer.Option(
            "--workspace", help="The workspace (slug or id) that issues it; default: the file's, else the first."
        ),
    ] = None,
    as_json: bool = JsonOption,
) -> None:
    """Start the invoice workflow for a booking; a second run for the same booking creates nothing new. A file
    without `currency` or `payment_terms` gets its workspace's default currency and payment terms."""
    try:
        raw = json.loads(file.read_text())
    except json.JSONDecodeError as err:
        fail(f"{file} is not valid JSON: {err}", code=2)
    if not isinstance(raw, dict):
        fail("the booking must be a JSON object", code=2)
    run(_create_from(raw, as_json, workspace))


async def _create_from(raw: dict[str, object], as_json: bool, workspace: str | None = None) -> None:
    from billflow.services import invoice_list
    from billflow.services import workspaces as workspaces_service
    from billflow.services.business_profile import business_profile_in, refusal_for
    from models.client_sources import STAFF_SOURCE
    from models.workflow_io import BookingIn

    settings = get_settings()
    async with database(settings) as db:
        named = raw.get("workspace_id", 1)
        valid = isinstance(named, int | str) and not isinstance(named, bool)
        ref: str | int = workspace if workspace is not None else named if valid else 1  # type: ignore[assignment]
        try:  # the issuing workspace must exist: an unknown one is named, nothing is written
            workspace_id = (await workspaces_service.get_workspace(db, ref)).id
        except workspaces_service.WorkspaceNotFound as err:
            fail(f"{'--workspace' if workspace is not None else 'workspace_id'}: {err}", code=2)
        async with db.session() as session:  # what the file leaves out comes from its workspace (issue 15)
            defaults = await workspaces_service.invoice_defaults(session, workspace_id=workspace_id)
        raw = {**raw, "workspace_id": workspace_id}
        if raw.get("currency") is None:
            raw["currency"] = defaults.currency
        if raw.get("payment_terms") is None:
            raw["payment_terms"] = timedelta(days=defaults.payment_terms_days)
        booking = BookingIn.model_validate(raw)  # inside run(): a validation error becomes a clear message
        # The CLI is staff: its bookings' clients are staff's, whatever the file says (models/client_sources).
        booking = booking.model_copy(update={"client_source": STAFF_SOURCE, "requested_by": "cli"})
        async with db.session() as session:  # the saved business profile, else the settings'
            refused = refusal_for(
                booking.lines, await business_profile_in(session, settings, workspace_id=booking.workspace_id)
            )
        if refused:
            fail(refused, code=2)
        # Issued here with its number (the one intake); the run (payment link, emails) starts through the outbox.
        invoice = await invoice_list.create_by_hand(db, settings, booking)
    if as_json:
        print_json(
            {
                "workflow_id": invoice.workflow_id,
                "number": invoice.number,
                "status": invoice.status,
                "total_minor": invoice.total_minor,
                "currency": invoice.currency,
                "due_date": invoice.due_date.isoformat(),
            }
        )
        return
    console.print(
        f"Invoice [bold]{invoice.number}[/] for {format_money(invoice.total_minor, invoice.currency)}, "
        f"due {invoice.due_date}, workflow [bold]{invoice.workflow_id}[/] (its pay link follows once a worker runs it)"
    )


@app.command("list")
def list_invoices(
    status: Annotated[InvoiceStatus | None, typer.Option(help="Only invoices in this status.")] = None,
    client: Annotated[str | None, typer.Option(help="Only this client's invoices (external id).")] = None,
    client_source: Annotated[
        str | None, typer.Option(help='The client\'s source ("staff", "integration:NAME") if several use the id.')
    ] = None,
    limit: Annotated[int, typer.Option(min=1, max=1000, help="How many, newest first.")] = 50,
    as_json: bool = JsonOption,
) -> None:
    """The newest invoices, optionally filtered."""
    if client is None:  # psycopg alone (starter/reads): a table from a few columns, or every column as JSON
        if as_json:
            print_json(_read_invoices_json(status, limit))
        else:
            _print_invoices(_read_invoices(status, limit))
        return
    run(_list(status, client, client_source, limit, as_json))


async def _list(
    status: InvoiceStatus | None, client_external_id: str | None, client_source: str | None, limit: int, as_json: bool
) -> None:
    async with database() as db, db.session() as session:
        client_id = None
        if client_external_id is not None:
            from billflow.services import clients as clients_service  # with its workflow contracts: only here

            try:  # staff's own client when several sources use the id is not guessed: say so
                found = await clients_service.require_client(session, client_external_id, source=client_source)
            except (clients_service.ClientNotFound, clients_service.AmbiguousClient) as err:
                fail(f"{err} (--client-source)" if isinstance(err, clients_service.AmbiguousClient) else str(err))
            client_id = found.id
        rows = await invoices_repo.list_invoices(session, status=status, client_id=client_id, limit=limit)
    if as_json:
        print_json([{**inv.model_dump(mode="json"), "client": cl.model_dump(mode="json")} for inv, cl in rows])
        return
    _print_invoices(
        [
            {
                "number": invoice.number,
                "client_name": client_row.name,
                "currency": invoice.currency,
                "total_minor": invoice.total_minor,
                "balance_minor": invoice.balance_minor,
                "status": invoice.status,
                "viewed_at": invoice.viewed_at,
                "issue_date": invoice.issue_date,
                "due_date": invoice.due_date,
            }
            for invoice, client_row in rows
        ]
    )


def _read_invoices(status: InvoiceStatus | None, limit: int) -> list[dict[str, Any]]:
    from starter import reads

    with reads.connection() as conn:
        return reads.invoices(conn, status=status.value if status else None, client_id=None, limit=limit)


def _read_invoices_json(status: InvoiceStatus | None, limit: int) -> list[dict[str, Any]]:
    from starter import reads

    with reads.connection() as conn:
        return reads.invoices_with_clients(conn, status=status.value if status else None, limit=limit)


def _print_invoices(rows: list[dict[str, Any]]) -> None:
    table = Table(title=f"Invoices ({len(rows)})", header_style="bold")
    for column in ("Number", "Client", "Total", "Balance", "Status", "Issued", "Due"):
        table.add_column(column, justify="right" if column in ("Total", "Balance") else "left")
    for row in rows:
        status_cell = styled_status(row["status"])
        if row["viewed_at"] and row["status"] not in (InvoiceStatus.paid, InvoiceStatus.void):
            status_cell += " [dim](viewed)[/]"
        table.add_row(
            row["number"],
            escape(row["client_name"]),
            format_money(row["total_minor"], row["currency"]),
            format_money(row["balance_minor"], row["currency"]),
            status_cell,
            row["issue_date"].isoformat(),
            row["due_date"].isoformat(),
        )
    console.print(table)


LiveOption = Annotated[
    bool,
    typer.Option(
        "--live/--no-live",
        help="Ask Temporal for the run's state and plan (when it answers); --no-live: the database's facts only.",
    ),
]


@app.command()
def show(number: NumberArg, as_json: bool = JsonOption, live: LiveOption = True) -> None:
    """One invoice: lines, payments, emails, timeline and the live workflow state."""
    from starter import reads

    # The facts come from the database through psycopg alone; temporalio is imported only when a Temporal
    # server listens to answer for the live state (issue 11, item 15). --json keeps the models' JSON.
    with reads.connection() as conn:
        facts = reads.invoice_facts(conn, number=number)
    if facts is None:
        fail(f"no invoice numbered {number}")
    if as_json:
        run(_show_json(number, live=live))
        return
    state, plan = run(_live(facts.invoice.workflow_id)) if live else (None, None)
    print_invoice(facts, state=state, plan=plan)


async def _show_json(number: str, *, live: bool) -> None:
    async with database() as db:
        async with db.session() as session:
            invoice = await invoices_repo.get_invoice(session, number=number)
            if invoice is None:
                fail(f"no invoice numbered {number}")
            assert invoice.id is not None
            client = await clients_repo.get_client(session, client_id=invoice.client_id)
            lines = await invoices_repo.get_lines(session, invoice_id=invoice.id)
            payments = await payments_repo.list_payments(session, invoice_id=invoice.id)
            messages = await messages_repo.list_messages(session, invoice_id=invoice.id)
            events = await timeline_repo.list_events(session, invoice_id=invoice.id)
        state, plan = await _live(invoice.workflow_id) if live else (None, None)
    print_json(
        {
            "invoice": invoice.model_dump(mode="json"),
            "client": client.model_dump(mode="json") if client else None,
            "lines": [line.model_dump(mode="json") for line in lines],
            "payments": [p.model_dump(mode="json") for p in payments],
            "messages": [m.model_dump(mode="json", exclude={"body_text", "body_html"}) for m in messages],
            "timeline": [e.model_dump(mode="json") for e in events],
            "workflow": state.model_dump(mode="json") if state else None,
            "plan": plan.model_dump(mode="json") if plan else None,
        }
    )


async def _live(workflow_id: str) -> tuple[InvoiceState | None, InvoicePlan | None]:
    """The run's state and plan, or (None, None) when Temporal does not answer: then without importing
    temporalio at all, when nothing listens at its address."""
    if not await asyncio.to_thread(_temporal_may_answer, get_settings().temporal_address):
        return None, None
    state = await _live_state(workflow_id)
    plan = await _live_plan(workflow_id) if state is not None else None
    return state, plan


def _temporal_may_answer(address: str, timeout: float = 3.0) -> bool:
    """False when nothing accepts a connection at TEMPORAL_ADDRESS (the client would fail there too, in its own
    3 s); True when something may answer, or when a temporalio profile could point the client elsewhere."""
    import os
    import socket

    config_home = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")
    if os.environ.get("TEMPORAL_CONFIG_FILE") or os.environ.get("TEMPORAL_PROFILE"):
        return True
    if (config_home / "temporalio" / "temporal.toml").exists():
        return True
    host, _, port = address.rpartition(":")
    try:
        with socket.create_connection((host.strip("[]") or "127.0.0.1", int(port)), timeout=timeout):
            return True
    except (OSError, ValueError):
        return False


def print_invoice(facts: InvoiceFacts, *, state: InvoiceState | None, plan: InvoicePlan | None) -> None:
    """The invoice as `billflow invoice show` prints it (facts: starter/reads.py's rows, the models' names)."""
    invoice, client, lines = facts.invoice, facts.client, facts.lines
    payments, messages, events = facts.payments, facts.messages, facts.events
    money = lambda minor: format_money(minor, invoice.currency)  # noqa: E731
    console.print(
        f"[bold]{invoice.number}[/]  {styled_status(invoice.status)}"
        + (f"  [dim]viewed {invoice.viewed_at:%Y-%m-%d %H:%M}[/]" if invoice.viewed_at else "")
    )
    if client:
        console.print(f"Client: {escape(client.name)} <{escape(client.email)}> ({client.timezone})")
    console.print(f"Issued {invoice.issue_date}, due {invoice.due_date}; workflow {invoice.workflow_id}")
    if invoice.payment_url:
        console.print(f"Pay link: {invoice.payment_url}")
    lines_table = Table("Description", "Qty", "Unit", "Tax", "Total", title="Lines", header_style="bold")
    for line in lines:
        lines_table.add_row(
            escape(line.description),
            f"{line.quantity.normalize()}",
            money(line.unit_price_minor),
            f"{line.tax_rate_bp / 100:g} %",
            money(line.total_minor),
        )
    lines_table.add_section()
    lines_table.add_row("Total", "", "", money(invoice.tax_minor), f"[bold]{money(invoice.total_minor)}[/]")
    if invoice.credited_minor:  # credit notes (issue 14): `billflow credit-note list --invoice NUMBER`
        lines_table.add_row("Credited", "", "", "", money(invoice.credited_minor))
    lines_table.add_row("Paid", "", "", "", money(invoice.amount_paid_minor))
    lines_table.add_row("Balance", "", "", "", f"[bold]{money(invoice.balance_minor)}[/]")
    console.print(lines_table)
    if payments:
        table = Table(
            "Received (UTC)", "Kind", "Provider", "Reference", "Amount", title="Payments", header_style="bold"
        )
        for p in payments:
            table.add_row(
                f"{p.received_at:%Y-%m-%d %H:%M:%S}",
                p.kind,
                p.provider,
                p.provider_reference[:24],
                money(p.amount_minor),
            )
        console.print(table)
    if messages:
        table = Table("Created (UTC)", "Kind", "Step", "To", "Status", "Subject", title="Emails", header_style="bold")
        for m in reversed(messages):
            table.add_row(
                f"{m.created_at:%Y-%m-%d %H:%M:%S}",
                m.kind,
                str(m.reminder_step or ""),
                m.to_email,
                m.status,
                escape(m.subject),
            )
        console.print(table)
    table = Table("When (UTC)", "Event", "Details", title="Timeline", header_style="bold")
    for e in events:
        table.add_row(f"{e.occurred_at:%Y-%m-%d %H:%M:%S}", e.kind, escape(e.message))
    console.print(table)
    if state is not None:
        _print_state(state)
    if plan is not None and plan.entries:
        print_plan(plan)


async def _live_plan(workflow_id: str) -> InvoicePlan | None:
    from billflow.temporal import connect
    from workflows.invoice import InvoiceWorkflow

    try:
        client = await asyncio.wait_for(connect(get_settings()), timeout=3)
        handle = client.get_workflow_handle(workflow_id)
        return await asyncio.wait_for(handle.query(InvoiceWorkflow.plan), timeout=5)
    except Exception:  # show stays useful without Temporal (or with a worker that predates the plan query)
        return None


def print_plan(plan: InvoicePlan, *, title: str = "Plan ahead") -> None:
    table = Table("When (UTC)", "Client's local time", "What", "Note", title=title, header_style="bold")
    for entry in plan.entries:
        what = f"[dim]{escape(entry.label)}[/]" if entry.skipped else escape(entry.label)
        table.add_row(f"{entry.at:%Y-%m-%d %H:%M}", entry.local_label or "", what, escape(entry.note))
    console.print(table)


async def _live_state(workflow_id: str) -> InvoiceState | None:
    """The workflow's status query, or None when Temporal cannot be reached (the database still answers)."""
    from billflow.services import invoice_runs
    from billflow.temporal import connect

    try:
        client = await asyncio.wait_for(connect(get_settings()), timeout=3)
        return await asyncio.wait_for(invoice_runs.query_state(client, workflow_id), timeout=5)
    except Exception:  # show stays useful without Temporal
        return None


def _print_state(state: InvoiceState) -> None:
    nxt = state.next_reminder
    parts = [f"reminders sent {state.steps_sent}/{len(state.reminders)}"]
    if nxt is not None and not state.status.is_final:
        parts.append(f"next {nxt.at:%Y-%m-%d %H:%M:%S} UTC (step {nxt.step})")
    if state.paused:
        parts.append("paused" + (f" until {state.paused_until:%Y-%m-%d %H:%M} UTC" if state.paused_until else ""))
    if state.hold is not None:
        until = f" until {state.hold.until:%Y-%m-%d %H:%M} UTC" if state.hold.until else ""
        parts.append(f"reminders wait ({state.hold.kind.value}: {escape(state.hold.label)}){until}")
    if state.escalated:
        parts.append("escalated to staff")
    if state.last_rejection:
        parts.append(f"last rejected action: {escape(state.last_rejection)}")
    console.print("Workflow: " + "; ".join(parts))


# --- staff actions ----------------------------------------------------------------------------------


def _act(number: str, action: StaffAction, as_json: bool, *, dry_run: bool = False, name: str = "") -> None:
    from models.workflow_io import ExtendDueDate, PauseReminders

    if dry_run:
        assert isinstance(action, ExtendDueDate | PauseReminders)
        run(_preview(number, action, name, as_json))
        return
    run(_perform(number, action, as_json))


async def _preview(
    number: str, action: workflow_io.ExtendDueDate | workflow_io.PauseReminders, name: str, as_json: bool
) -> None:
    from billflow.services import invoice_plans, staff_actions

    settings = get_settings()
    client = await temporal_client(settings)
    async with database(settings) as db:
        try:
            preview = await invoice_plans.preview_action(db, client, number=number, action=action, name=name)
        except staff_actions.InvoiceNotFound as err:
            fail(str(err))
        except staff_actions.ActionRejected as err:
            fail(f"{type(action).__name__} does not apply: {err.reason}")
    if as_json:
        print_json(preview)
        return
    console.print(f"[bold]Dry run[/] of {name} on {number}: nothing is changed.")
    print_plan(preview.before, title="Plan now")
    print_plan(preview.after, title=f"Plan after {name}")


async def _perform(number: str, action: StaffAction, as_json: bool) -> None:
    from billflow.services import staff_actions

    settings = get_settings()
    client = await temporal_client(settings)
    async with database(settings) as db:
        try:
            state = await staff_actions.perform_action(db, client, number=number, action=action)
        except staff_actions.InvoiceNotFound as err:
            fail(str(err))
        except staff_actions.ActionRejected as err:
            fail(f"{type(action).__name__} does not apply: {err.reason}")
    if as_json:
        print_json(state)
        return
    console.print(
        f"[bold]{state.number}[/] {styled_status(state.status)}, "
        f"balance {format_money(state.balance_minor, state.currency)}, due {state.due_date}"
    )
    _print_state(state)


@app.command("mark-paid")
def mark_paid(
    number: NumberArg,
    amount: Annotated[int | None, typer.Option(min=1, help="Minor units (cents); default: the whole balance.")] = None,
    method: Annotated[str, typer.Option(help="cash, bank_transfer, cheque, ...")] = "bank_transfer",
    note: NoteOption = None,
    as_json: bool = JsonOption,
) -> None:
    """Record a payment received outside billflow."""
    _act(number, workflow_io.MarkPaid(amount_minor=amount, method=method, note=note, actor="cli"), as_json)


@app.command("pause-reminders")
def pause_reminders(
    number: NumberArg,
    until: Annotated[datetime | None, typer.Option(help="Auto-resume at (ISO; UTC if naive).")] = None,
    note: NoteOption = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Show the plan before and after; change nothing.")] = False,
    as_json: bool = JsonOption,
) -> None:
    """Stop sending reminders for this invoice, for now or until a date."""
    if until is not None and until.tzinfo is None:
        until = until.replace(tzinfo=UTC)
    action = workflow_io.PauseReminders(until=until, note=note, actor="cli")
    _act(number, action, as_json, dry_run=dry_run, name="pause-reminders")


@app.command("resume-reminders")
def resume_reminders(number: NumberArg, note: NoteOption = None, as_json: bool = JsonOption) -> None:
    """Send the remaining reminders again (steps that fell due while paused are skipped)."""
    _act(number, workflow_io.ResumeReminders(note=note, actor="cli"), as_json)


_DURATION = re.compile(r"^(\d+)([dhms])$")


def parse_duration(text: str) -> timedelta:
    match = _DURATION.match(text.strip())
    if not match:
        raise typer.BadParameter("use e.g. 7d, 12h, 30m or 45s")
    value, unit = int(match[1]), match[2]
    return timedelta(**{{"d": "days", "h": "hours", "m": "minutes", "s": "seconds"}[unit]: value})


@app.command("extend-due-date")
def extend_due_date(
    number: NumberArg,
    to: Annotated[datetime | None, typer.Option("--to", formats=["%Y-%m-%d"], help="New due date.")] = None,
    by: Annotated[str | None, typer.Option("--by", help="Shift by a duration: 7d, 12h, 30m, 45s.")] = None,
    note: NoteOption = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Show the plan before and after; change nothing.")] = False,
    as_json: bool = JsonOption,
) -> None:
    """Move the due date; every remaining reminder moves with it."""
    if (to is None) == (by is None):
        fail("give exactly one of --to or --by", code=2)
    new_date: date | None = to.date() if to else None
    shift = parse_duration(by) if by else None
    action = workflow_io.ExtendDueDate(due_date=new_date, extend_by=shift, note=note, actor="cli")
    _act(number, action, as_json, dry_run=dry_run, name="extend-due-date")


@app.command()
def void(
    number: NumberArg,
    reason: Annotated[str, typer.Option(help="Why the invoice is cancelled (kept on the timeline).")],
    as_json: bool = JsonOption,
) -> None:
    """Cancel an unpaid invoice."""
    _act(number, workflow_io.VoidInvoice(reason=reason, actor="cli"), as_json)


@app.command("write-off")
def write_off(
    number: NumberArg,
    reason: Annotated[str, typer.Option(help="Why the balance will not be collected.")],
    as_json: bool = JsonOption,
) -> None:
    """Mark the balance uncollectible (a later payment is still recorded)."""
    _act(number, workflow_io.WriteOff(reason=reason, actor="cli"), as_json)


@app.command("resolve-dispute")
def resolve_dispute(
    number: NumberArg,
    resolution: Annotated[str, typer.Option(help="How the dispute was settled (kept on the timeline).")],
    note: NoteOption = None,
    as_json: bool = JsonOption,
) -> None:
    """Close the client's dispute; reminders resume (void, write off or extend separately if needed)."""
    _act(number, workflow_io.ResolveDispute(resolution=resolution, note=note, actor="cli"), as_json)


@app.command()
def plan(number: NumberArg, as_json: bool = JsonOption) -> None:
    """What the invoice's run will do next and when (reminders at the client's local time, holds, escalation)."""
    run(_plan(number, as_json))


async def _plan(number: str, as_json: bool) -> None:
    from billflow.services import invoice_plans, staff_actions

    settings = get_settings()
    client = await temporal_client(settings)
    async with database(settings) as db:
        try:
            found = await invoice_plans.current_plan(db, client, number=number)
        except staff_actions.InvoiceNotFound as err:
            fail(str(err))
        except staff_actions.ActionRejected as err:
            fail(err.reason)
    if as_json:
        print_json(found)
        return
    console.print(f"[bold]{found.number}[/] {styled_status(found.status)}, due {found.due_date} ({found.timezone})")
    print_plan(found)


@app.command()
def document(
    number: NumberArg,
    format: Annotated[
        FileKind, typer.Option("--format", "-f", help="pdf (Factur-X), cii, xrechnung, xrechnung-cii or peppol.")
    ] = FileKind.pdf,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", dir_okay=False, help="Where to write it (default: its name).")
    ] = None,
) -> None:
    """Write the invoice as a file: the Factur-X PDF/A-3 or an e-invoice XML (rendered once, then stored)."""
    run(_document(number, format, output))


async def _document(number: str, kind: FileKind, output: Path | None) -> None:
    from billflow.services import document_files

    async with database() as db:
        try:
            file = await document_files.invoice_file(db, get_settings(), number=number, kind=kind)
        except document_files.InvoiceNotFound as err:
            fail(str(err))
        except document_files.DocumentInvalid as err:
            fail(f"invoice {number} cannot be produced as {kind.value}: {err}", code=2)
    target = output or Path(file.filename)
    target.write_bytes(file.content)
    console.print(f"Wrote {escape(str(target))} ({len(file.content):,} bytes, {file.content_type}).")


def _register_document_commands() -> None:
    """`invoice issue-final` lives with the other document commands (starter/documents.py), `invoice refund`
    in starter/refunds.py."""
    from starter.documents import issue_final
    from starter.refunds import refund

    app.command("issue-final")(issue_final)
    app.command("refund")(refund)


_register_document_commands()
