"""`billflow`: run the stack, create and manage invoices, reports. Every command has --help.

Commands are registered by name and help text only; a command's module (and with it sqlalchemy, temporalio,
stripe, the web app ...) is imported when that command runs, so `billflow --help` starts in a fraction of a
second (issue 11, item 15; bench/cli_startup.py prints the figures).
"""

from __future__ import annotations

import atexit
import importlib
from typing import TYPE_CHECKING, Any

import typer
from typer.core import TyperCommand, TyperGroup

if TYPE_CHECKING:  # typer carries its own click (typer._click); these are its types
    from typer._click import Command, Context, HelpFormatter

# Sub-apps: name -> (module whose `app` holds the commands, help).
SUBAPPS: dict[str, tuple[str, str]] = {
    "invoice": ("starter.invoices", "Create, list, show and act on invoices."),
    "credit-note": ("starter.documents", "Credit notes: list, show, issue a partial one."),
    "document": ("starter.documents:document_app", "Any invoice or credit note as issued (--pdf)."),
    "subscription": (
        "starter.subscriptions",
        "Recurring billing: create, list, show, pause, resume, cancel, change, trigger.",
    ),
    "client": ("starter.clients", "Client records, timelines, notes and reminder settings."),
    "report": ("starter.reports", "Receivables reports: aging, cash, dso, top-overdue, effectiveness."),
    "user": ("starter.users", "Staff accounts of the web app: create (the first admin), list."),
    "workspace": ("starter.workspaces", "The businesses this installation serves: create, list, show, update."),
    "key": ("starter.keys", "Create, list and revoke staff API keys."),
    "integration": ("starter.integrations", "Booking systems that post signed events."),
    "events": ("starter.events", "Send a booking event by hand: `billflow events send FILE`."),
    "catalog": ("starter.catalog", "Prices of booked event types: add, list, remove."),
    "interest": ("starter.interest", "Late-payment interest: reference rates, quotes, interest invoices."),
    "portal": ("starter.portal", "Client portal: email a magic link, revoke links."),
    "db": ("starter.db_cmd", "The database schema: `billflow db upgrade`, downgrade, current."),
    "codec": ("starter.codec_cmd", "Payload encryption keys: `billflow codec generate-key --id ID`."),
    "temporal": ("starter.temporal_cmd", "Prepare a Temporal namespace: `billflow temporal setup`."),
}
# Top-level commands: name -> (module whose `register(app)` defines it, help shown in `billflow --help`).
COMMANDS: dict[str, tuple[str, str]] = {
    "api": (
        "starter.api",
        "Run the HTTP API against the configured database and Temporal (start a worker separately).",
    ),
    "outbox": ("starter.outbox", "The emails billflow sent; `billflow outbox ID` prints one."),
    "dev": (
        "starter.stack",
        "Start PostgreSQL, the Temporal dev server (UI on :8233), the worker and the web app; Ctrl-C stops all.",
    ),
    "demo": (
        "starter.stack",
        "Eight demo bookings of two businesses through their whole life in about a minute, shown live.",
    ),
}
ORDER = ["invoice", "credit-note", "document", "subscription", "client", "report", "user", "workspace", "key"]
ORDER += ["integration"]
ORDER += ["events", "catalog", "interest", "portal", "api", "outbox", "db", "codec", "temporal", "dev", "demo"]


class LazyGroup(TyperGroup):
    """A group whose commands are imported on first use; listing them for help imports nothing."""

    _listing = False

    def list_commands(self, ctx: Context) -> list[str]:
        return list(ORDER)

    def get_command(self, ctx: Context, cmd_name: str) -> Command | None:
        if cmd_name not in SUBAPPS and cmd_name not in COMMANDS:
            return None
        if self._listing:  # the help page needs a name and a line of help, not the command
            return TyperCommand(cmd_name, help=(SUBAPPS.get(cmd_name) or COMMANDS[cmd_name])[1])
        return load_command(cmd_name)

    def format_help(self, ctx: Context, formatter: HelpFormatter) -> None:
        self._listing = True
        try:
            super().format_help(ctx, formatter)
        finally:
            self._listing = False


def load_command(name: str) -> Command:
    """The real click command `name`, built by typer from its module."""
    holder = typer.Typer()
    if name in SUBAPPS:
        target, help_text = SUBAPPS[name]
        module_name, _, attribute = target.partition(":")
        sub_app = getattr(importlib.import_module(module_name), attribute or "app")
        holder.add_typer(sub_app, name=name, help=help_text)
    else:
        importlib.import_module(COMMANDS[name][0]).register(holder)
    return typer.main.get_group(holder).commands[name]


app = typer.Typer(
    name="billflow",
    cls=LazyGroup,
    help="Invoice management for service businesses, run as durable Temporal workflows.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)


@app.callback()
def _root() -> None:
    """Invoice management for service businesses, run as durable Temporal workflows."""


def main() -> None:
    """Run the command, then leave without interpreter teardown (see billflow.process.exit_now: temporalio's
    threads can abort it, turning a clean exit into 134). Exit handlers still run: the embedded PostgreSQL stops."""
    from billflow.process import exit_now

    try:
        app()
        code = 0
    except SystemExit as done:
        code = done.code if isinstance(done.code, int) else (0 if done.code is None else 1)
        if isinstance(done.code, str):
            _print_error(done.code)
    atexit._run_exitfuncs()
    exit_now(code)


def _print_error(message: Any) -> None:
    from rich.console import Console

    Console(stderr=True).print(message)


if __name__ == "__main__":
    main()
