"""`billflow key create|list|revoke`: staff API keys (the plaintext is printed once, at creation)."""

from __future__ import annotations

from datetime import UTC
from typing import TYPE_CHECKING, Any

import typer
from rich.markup import escape
from rich.table import Table

from models.enums import ApiRole
from models.workspace_ids import DEFAULT_WORKSPACE_ID
from starter.common import JsonOption, LazyModule, console, database, fail, print_json, run

if TYPE_CHECKING:
    from billflow.services import api_keys
else:  # imported when a command that writes runs: `key list` reads through psycopg alone (issue 11, item 15)
    api_keys = LazyModule("billflow.services.api_keys")

app = typer.Typer(no_args_is_help=True)


@app.command("create")
def create(
    name: str = typer.Argument(..., help="Who or what uses the key, e.g. 'front desk'."),
    role: ApiRole = typer.Option(ApiRole.staff, "--role", help="viewer < staff < admin."),
    workspace: str | None = typer.Option(
        None, "--workspace", help="The workspace (slug) whose data the key reads and acts on; default: the first."
    ),
    as_json: bool = JsonOption,
) -> None:
    """Create a key and print its token once: store it now, it cannot be shown again."""

    async def go() -> api_keys.CreatedApiKey:
        async with database() as db:
            workspace_id = DEFAULT_WORKSPACE_ID
            if workspace is not None:
                from billflow.services import workspaces

                try:
                    workspace_id = (await workspaces.get_workspace(db, workspace)).id
                except workspaces.WorkspaceNotFound as err:
                    fail(f"--workspace: {err}")
            return await api_keys.create_key(db, api_keys.NewApiKey(name=name, role=role, workspace_id=workspace_id))

    created = run(go())
    if as_json:
        print_json(created)
        return
    console.print(f"Created key [bold]{created.key_id}[/] ({created.role.value}) for {escape(created.name)}.")
    console.print("Token (shown once):")
    console.print(created.token, soft_wrap=True, highlight=False)


@app.command("list")
def list_(
    active: bool = typer.Option(False, "--active", help="Hide revoked keys."),
    as_json: bool = JsonOption,
) -> None:
    """List keys (never their secrets)."""
    from starter import reads
    from starter.reads import admin

    with reads.connection() as conn:
        keys = admin.api_keys(conn, include_revoked=not active)
    if as_json:
        print_json(admin.as_json(keys))
        return
    print_keys(keys)


def print_keys(keys: list[Any]) -> None:
    """Rows or ApiKeyOut models: the same attribute names."""
    table = Table("key id", "name", "role", "created (UTC)", "last used (UTC)", "revoked (UTC)", title="API keys")
    for key in keys:
        table.add_row(
            key.key_id,
            escape(key.name),
            str(key.role),
            f"{key.created_at.astimezone(UTC):%Y-%m-%d %H:%M}",
            f"{key.last_used_at.astimezone(UTC):%Y-%m-%d %H:%M}" if key.last_used_at else "",
            f"{key.revoked_at.astimezone(UTC):%Y-%m-%d %H:%M}" if key.revoked_at else "",
        )
    console.print(table)


@app.command("revoke")
def revoke(
    key_id: str = typer.Argument(..., help="The key id shown by `billflow key list`."), as_json: bool = JsonOption
) -> None:
    """Revoke a key: it stops working at once."""

    async def go() -> api_keys.ApiKeyOut:
        async with database() as db:
            return await api_keys.revoke_key(db, key_id=key_id)

    try:
        key = run(go())
    except api_keys.KeyNotFound as err:
        fail(str(err))
    if as_json:
        print_json(key)
        return
    console.print(f"Revoked key [bold]{key.key_id}[/] ({escape(key.name)}).")
