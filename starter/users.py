"""`billflow user create|list|set-password`: staff accounts of the web app (the first admin starts here)."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

import typer
from rich.markup import escape
from rich.table import Table

from models.enums import ApiRole
from models.workspace_ids import DEFAULT_WORKSPACE_ID
from starter.common import JsonOption, LazyModule, console, database, fail, print_json, run

if TYPE_CHECKING:
    from billflow.services import users, workspaces
else:  # imported when a command that writes runs: `user list` reads through psycopg alone (issue 11, item 15)
    users = LazyModule("billflow.services.users")
    workspaces = LazyModule("billflow.services.workspaces")

app = typer.Typer(no_args_is_help=True)

PasswordStdin = typer.Option(False, "--password-stdin", help="Read the password from standard input (one line).")


def _password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    return str(typer.prompt("Password", hide_input=True, confirmation_prompt=True))


@app.command("create")
def create(
    email: str = typer.Argument(..., help="The person's email address (their sign-in name)."),
    role: ApiRole = typer.Option(ApiRole.staff, "--role", help="viewer < staff < admin."),
    name: str = typer.Option("", "--name", help="Shown in the app."),
    workspace: str | None = typer.Option(
        None,
        "--workspace",
        help="The workspace (slug or id) whose staff app the user signs in to; default: the first.",
    ),
    password_stdin: bool = PasswordStdin,
    as_json: bool = JsonOption,
) -> None:
    """Create a user with a password (prompted twice, or from stdin); others are invited from the app."""

    async def find() -> int:
        async with database() as db:
            try:
                return (await workspaces.get_workspace(db, workspace or DEFAULT_WORKSPACE_ID)).id
            except workspaces.WorkspaceNotFound as err:
                fail(f"--workspace: {err} (see `billflow workspace list`)")

    workspace_id = run(find())  # before the password is asked for: an unknown workspace wastes no typing
    password = _password(password_stdin)
    try:
        users.check_password(password)
    except users.WeakPassword as err:
        fail(f"password: {err}", code=2)

    async def go() -> users.UserOut:
        # inside run(): a bad address exits 2, named
        data = users.NewUser(email=email, name=name, role=role, workspace_id=workspace_id)
        async with database() as db:
            return await users.create_user(db, data, password=password)

    try:
        user = run(go())
    except users.UserExists as err:
        fail(str(err))
    if as_json:
        print_json(user)
        return
    console.print(
        f"Created {user.role.value} [bold]{escape(user.email)}[/] of workspace {user.workspace_id}: "
        "sign in at /app/login."
    )


@app.command("set-password")
def set_password(
    email: str = typer.Argument(..., help="Whose password."),
    password_stdin: bool = PasswordStdin,
) -> None:
    """Set a user's password (an admin locked out); every session of that user ends."""
    password = _password(password_stdin)
    try:
        users.check_password(password)
    except users.WeakPassword as err:
        fail(f"password: {err}", code=2)

    async def go() -> users.UserOut:
        async with database() as db:
            return await users.set_password(db, email=email, password=password)

    try:
        user = run(go())
    except users.UserNotFound as err:
        fail(str(err))
    console.print(f"Password of [bold]{escape(user.email)}[/] set.")


@app.command("list")
def list_(as_json: bool = JsonOption) -> None:
    """List the staff users (never their password hashes)."""
    from starter import reads
    from starter.reads import admin

    with reads.connection() as conn:
        people = admin.users(conn)
    if as_json:
        print_json(admin.as_json(people))
        return
    print_users(people)


def print_users(people: list[Any]) -> None:
    """Rows or UserOut models: the same attribute names."""
    table = Table("email", "name", "workspace", "role", "state", "last sign-in (UTC)", title="Users")
    for user in people:
        state = "active" if user.active else ("invited" if user.invited else "disabled")
        last = f"{user.last_login_at:%Y-%m-%d %H:%M}" if user.last_login_at else ""
        table.add_row(escape(user.email), escape(user.name), str(user.workspace_id), str(user.role), state, last)
    console.print(table)
