"""`billflow db ...`: the database schema through its Alembic migrations."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from starter.common import LazyModule, console, database, fail, run

if TYPE_CHECKING:
    from billflow import migrate
else:  # Alembic is imported to migrate; `db current` reads the revision through psycopg (issue 11, item 15)
    migrate = LazyModule("billflow.migrate")

app = typer.Typer(no_args_is_help=True)


@app.command()
def upgrade(
    revision: Annotated[str, typer.Argument(help="Target revision; `head` is the newest.")] = "head",
) -> None:
    """Apply the migrations up to REVISION (idempotent; concurrent runs wait for each other)."""

    async def _upgrade() -> str | None:
        async with database(upgrade=False) as db:
            await migrate.upgrade(db.engine, revision)
            return await migrate.current(db.engine)

    console.print(f"database at revision [bold]{run(_upgrade()) or 'base (empty)'}[/]")


@app.command()
def downgrade(
    revision: Annotated[str, typer.Argument(help="Target revision: an id, `-1` for one step back, `base` for empty.")],
) -> None:
    """Revert the migrations down to REVISION. `base` drops every billflow table and its data."""

    async def _downgrade() -> str | None:
        async with database(upgrade=False) as db:
            await migrate.downgrade(db.engine, revision)
            return await migrate.current(db.engine)

    console.print(f"database at revision [bold]{run(_downgrade()) or 'base (empty)'}[/]")


@app.command()
def current() -> None:
    """Print the database's revision and the newest one in the code; exit 1 when they differ."""
    from billflow.schema_version import head_revisions
    from starter import reads

    with reads.connection(upgrade=False) as conn:
        at = reads.revisions(conn)
    heads = head_revisions()
    shown = ", ".join(sorted(at)) or "base (empty)"
    console.print(f"database: [bold]{shown}[/]   code head: [bold]{', '.join(sorted(heads)) or 'none'}[/]")
    if heads and at != heads:
        fail("the database is behind the code: run `billflow db upgrade`")


@app.command()
def revision(message: Annotated[str, typer.Option("-m", "--message", help="What the revision changes.")]) -> None:
    """Autogenerate a new revision from the models (upgrade the database to head first)."""

    async def _revision() -> None:
        async with database(upgrade=False) as db:
            heads = migrate.head_revisions()
            if heads and await migrate.current(db.engine) not in heads:
                fail("the database is not at head: run `billflow db upgrade` before generating a revision")
            await migrate.revision(db.engine, message)

    run(_revision())
