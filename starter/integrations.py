"""`billflow integration create|list`: booking systems allowed to post signed events."""

from __future__ import annotations

from datetime import UTC
from typing import TYPE_CHECKING, Any

import typer
from rich.table import Table

from models.workspace_ids import DEFAULT_WORKSPACE_ID
from starter.common import JsonOption, LazyModule, console, database, fail, print_json, run

if TYPE_CHECKING:
    from billflow.services import integrations
else:  # imported by `create`: `integration list` reads through psycopg alone (issue 11, item 15)
    integrations = LazyModule("billflow.services.integrations")

app = typer.Typer(no_args_is_help=True)


@app.command("create")
def create(
    name: str = typer.Argument(..., help="Lower-case name, e.g. 'calcom'; also the bookings' source."),
    workspace: str | None = typer.Option(
        None, "--workspace", help="The workspace (slug) its bookings belong to; default: the first."
    ),
    as_json: bool = JsonOption,
) -> None:
    """Create an integration and print its signing secret (give it to the booking system)."""

    async def go() -> integrations.CreatedIntegration:
        async with database() as db:
            workspace_id = DEFAULT_WORKSPACE_ID
            if workspace is not None:
                from billflow.services import workspaces

                try:
                    workspace_id = (await workspaces.get_workspace(db, workspace)).id
                except workspaces.WorkspaceNotFound as err:
                    fail(f"--workspace: {err}")
            new = integrations.NewIntegration(name=name, workspace_id=workspace_id)
            return await integrations.create_integration(db, new)

    try:
        created = run(go())
    except integrations.IntegrationExists as err:
        fail(str(err))
    if as_json:
        print_json(created)
        return
    console.print(f"Integration [bold]{created.name}[/] created. Signing secret:")
    console.print(created.secret, soft_wrap=True, highlight=False)
    console.print(
        f"It signs each delivery: {integrations.SIGNATURE_HEADER}: v1=HMAC-SHA256(secret, '<timestamp>.<body>'), "
        f"{integrations.TIMESTAMP_HEADER}: <unix seconds>, {integrations.INTEGRATION_HEADER}: {created.name}"
    )


@app.command("list")
def list_(as_json: bool = JsonOption) -> None:
    """List integrations (never their secrets)."""
    from starter import reads
    from starter.reads import admin

    with reads.connection() as conn:
        rows = admin.integrations(conn)
    if as_json:
        print_json(admin.as_json(rows))
        return
    print_integrations(rows)


def print_integrations(rows: list[Any]) -> None:
    """Rows or IntegrationOut models: the same attribute names."""
    table = Table("name", "created (UTC)", title="Integrations")
    for row in rows:
        table.add_row(row.name, f"{row.created_at.astimezone(UTC):%Y-%m-%d %H:%M}")
    console.print(table)
