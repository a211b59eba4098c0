"""What every command shares: settings, async plumbing, rich output, --json, clean errors."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

import typer
from rich.console import Console

if TYPE_CHECKING:  # imported by the commands that need them, not by every command's --help (issue 11, item 15)
    from temporalio.client import Client

    from billflow.config import Settings
    from billflow.db import Database

console = Console()
err_console = Console(stderr=True)
T = TypeVar("T")

JsonOption = typer.Option(False, "--json", help="Print machine-readable JSON instead of a table.")


class LazyModule:
    """A module imported on first attribute access: command modules name their services at the top (for
    readers and mypy, under TYPE_CHECKING) but import them only when a command runs (CLI start-up time)."""

    def __init__(self, name: str) -> None:
        self._name = name

    def __getattr__(self, attribute: str) -> Any:
        import importlib

        return getattr(importlib.import_module(self._name), attribute)


def get_settings() -> Settings:
    """billflow's settings (pydantic-settings is imported when a command runs, not for --help)."""
    from billflow.config import get_settings as settings

    return settings()


def format_money(minor: int, currency: str) -> str:
    """Money for people (babel is imported once there is money to show)."""
    from models.money import format_money as formatted

    return formatted(minor, currency)


def fail(message: str, code: int = 1) -> NoReturn:
    err_console.print(f"[bold red]error:[/] {message}")
    raise typer.Exit(code)


def run(coro: Coroutine[Any, Any, T]) -> T:
    """Run a command's coroutine; a validation error becomes a clear message and exit code 2."""
    with validation_failures():
        return asyncio.run(coro)


@contextmanager
def validation_failures() -> Iterator[None]:
    """A pydantic validation error inside becomes a clear message and exit code 2 (run's, for the psycopg reads
    that run no coroutine)."""
    from pydantic import ValidationError

    try:
        yield
    except ValidationError as err:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc']) or 'input'}: {e['msg']}" for e in err.errors())
        fail(problems, code=2)


def print_json(data: Any) -> None:
    from pydantic import BaseModel

    if isinstance(data, BaseModel):
        data = data.model_dump(mode="json")
    elif isinstance(data, list):
        data = [d.model_dump(mode="json") if isinstance(d, BaseModel) else d for d in data]
    sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")


@asynccontextmanager
async def database(settings: Settings | None = None, *, upgrade: bool = True) -> AsyncIterator[Database]:
    """The configured database; with `upgrade`, its schema is brought to head first (a no-op when it is)."""
    from sqlalchemy.exc import OperationalError

    from billflow.db import ALL_WORKSPACES, Database, resolve_database_url

    settings = settings or get_settings()
    context = _embedded_context(settings)
    # The operator's tool reads every workspace; an API request narrows itself to its key's (billflow/web/auth).
    db = Database(
        resolve_database_url(settings), pool_size=2, row_security=settings.row_security, unscoped=ALL_WORKSPACES
    )
    if context:
        err_console.print(context)
    try:
        if upgrade:
            from billflow.schema_version import at_head

            if not await at_head(db.engine):  # a quick read; Alembic is imported only to migrate
                await db.create_schema()  # a fresh data folder gets its tables
        else:
            await db.ping()
    except OperationalError as err:
        await db.dispose()
        fail(f"cannot reach the database: {err.orig or err}")
    try:
        yield db
    finally:
        await db.dispose()


def _embedded_context(settings: Settings) -> str | None:
    """A stderr line when the command is about to answer from an embedded database no stack runs on: run outside
    the project folder, billflow would otherwise silently create an empty one and answer "no invoice ..."."""
    if settings.database_url:
        return None
    from billflow.db_url import embedded_state  # no SQLAlchemy: the light reads pass here too

    state = embedded_state(settings.data_dir)
    pgdata = (settings.data_dir / "postgres").resolve()
    if state == "new":
        return (
            f"[yellow]note:[/] no billflow data under {pgdata}: this command created a new, empty embedded database "
            "there, and no `billflow dev` runs on it. Run billflow from the project folder, or set "
            "BILLFLOW_DATA_DIR or DATABASE_URL."
        )
    if state == "stopped":
        return f"[yellow]note:[/] using the embedded database under {pgdata}; no `billflow dev` is running on it."
    return None


async def temporal_client(settings: Settings | None = None) -> Client:
    from billflow.codec import CodecKeyError
    from billflow.temporal import connect

    settings = settings or get_settings()
    try:
        return await connect(settings)
    except CodecKeyError as err:
        fail(str(err))
    except RuntimeError as err:
        fail(f"cannot reach Temporal at {settings.temporal_address} ({err}); is `billflow dev` running?")


async def gather_all(*aws: Awaitable[T]) -> list[T]:
    return list(await asyncio.gather(*aws))


Handler = Callable[..., Any]
