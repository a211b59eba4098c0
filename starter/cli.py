"""`billflow`: run the stack, create and manage invoices, reports. Every command has --help."""

from __future__ import annotations

import atexit

import typer

from starter import api as api_cmd
from starter import catalog as catalog_cli
from starter import clients as clients_cli
from starter import db_cmd, invoices, outbox, stack, temporal_cmd
from starter import events as events_cli
from starter import integrations as integrations_cli
from starter import interest as interest_cli
from starter import keys as api_keys_cli
from starter import portal as portal_cli
from starter import reports as reports_cli
from starter import subscriptions as subscriptions_cli
from starter.common import err_console
from worker import exit_now

app = typer.Typer(
    name="billflow",
    help="Invoice management for service businesses, run as durable Temporal workflows.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.add_typer(invoices.app, name="invoice", help="Create, list, show and act on invoices.")
app.add_typer(
    subscriptions_cli.app,
    name="subscription",
    help="Recurring billing: create, list, show, pause, resume, cancel, change, trigger.",
)
app.add_typer(clients_cli.app, name="client", help="Client records, timelines, notes and reminder settings.")
app.add_typer(reports_cli.app, name="report", help="Receivables reports: aging, cash, dso, top-overdue, effectiveness.")
app.add_typer(api_keys_cli.app, name="key", help="Create, list and revoke staff API keys.")
app.add_typer(integrations_cli.app, name="integration", help="Booking systems that post signed events.")
app.add_typer(events_cli.app, name="events", help="Send a booking event by hand: `billflow events send FILE`.")
app.add_typer(catalog_cli.app, name="catalog", help="Prices of booked event types: add, list, remove.")
app.add_typer(
    interest_cli.app, name="interest", help="Late-payment interest: reference rates, quotes, interest invoices."
)
app.add_typer(portal_cli.app, name="portal", help="Client portal: email a magic link, revoke links.")
api_cmd.register(app)
app.add_typer(outbox.app, name="outbox", help="The emails billflow sent; `billflow outbox ID` prints one.")
app.add_typer(db_cmd.app, name="db", help="The database schema: `billflow db upgrade`, downgrade, current.")
app.add_typer(temporal_cmd.app, name="temporal", help="Prepare a Temporal namespace: `billflow temporal setup`.")
stack.register(app)


def main() -> None:
    """Run the command, then leave without interpreter teardown (see worker.exit_now: temporalio's threads can
    abort it, turning a clean exit into 134). Exit handlers still run: the embedded PostgreSQL stops."""
    try:
        app()
        code = 0
    except SystemExit as done:
        code = done.code if isinstance(done.code, int) else (0 if done.code is None else 1)
        if isinstance(done.code, str):
            err_console.print(done.code)
    atexit._run_exitfuncs()
    exit_now(code)


if __name__ == "__main__":
    main()
