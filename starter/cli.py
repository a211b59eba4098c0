"""`billflow`: run the stack, create and manage invoices, reports. Every command has --help."""

from __future__ import annotations

import typer

from starter import invoices, outbox, stack, temporal_cmd
from starter import keys as api_keys_cli

app = typer.Typer(
    name="billflow",
    help="Invoice management for service businesses, run as durable Temporal workflows.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.add_typer(invoices.app, name="invoice", help="Create, list, show and act on invoices.")
app.add_typer(api_keys_cli.app, name="key", help="Create, list and revoke staff API keys.")
app.add_typer(outbox.app, name="outbox", help="The emails billflow sent; `billflow outbox ID` prints one.")
app.add_typer(temporal_cmd.app, name="temporal", help="Prepare a Temporal namespace: `billflow temporal setup`.")
stack.register(app)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
