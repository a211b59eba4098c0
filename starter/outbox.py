"""`billflow outbox`: the emails billflow sent (with the outbox backend, this is where they are delivered)."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.panel import Panel
from rich.table import Table

from starter.common import JsonOption, console, fail, print_json


def register(app: typer.Typer) -> None:
    # A command, not a group: options may follow the id (`billflow outbox 7 --json`), which a group would take
    # for the name of a subcommand.
    @app.command("outbox")
    def outbox(
        message_id: Annotated[int | None, typer.Argument(help="Print this message in full.")] = None,
        limit: Annotated[int, typer.Option(min=1, max=500, help="How many of the newest messages to list.")] = 20,
        as_json: bool = JsonOption,
    ) -> None:
        """The emails billflow sent; `billflow outbox ID` prints one."""
        _outbox(message_id, limit, as_json)


def _outbox(message_id: int | None, limit: int, as_json: bool) -> None:
    from starter import reads  # psycopg alone (issue 11, item 15)
    from starter.reads import admin

    with reads.connection() as conn:
        messages = admin.messages(conn, message_id=message_id, limit=limit)
    if message_id is not None and not messages:
        fail(f"no email with id {message_id}")
    if as_json:
        print_json(admin.as_json(messages))
        return
    print_messages(messages, one=message_id is not None)


def print_messages(messages: list[Any], *, one: bool) -> None:
    """Rows or EmailMessage models (the same attribute names): one in full, or the list."""
    if one:
        m = messages[0]
        header = f"To: {m.to_email}\nSubject: {m.subject}\nKind: {m.kind}  Status: {m.status}  Backend: {m.backend}"
        console.print(Panel(escape(f"{header}\n\n{m.body_text}"), title=f"email {m.id}", expand=False))
        return
    table = Table("Id", "Created", "Kind", "Step", "To", "Status", "Subject", title="Outbox", header_style="bold")
    for m in messages:
        table.add_row(
            str(m.id),
            f"{m.created_at:%Y-%m-%d %H:%M:%S}",
            m.kind,
            str(m.reminder_step or ""),
            m.to_email,
            m.status,
            m.subject,
        )
    console.print(table)
