"""The database schema as Alembic migrations (migrations/): upgrade, downgrade, current revision, drift.

Every function takes billflow's async engine and hands Alembic one of its connections (`run_sync`), so the CLI,
the worker and the tests migrate exactly the database they use, with the psycopg 3 driver.
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, inspect
from sqlalchemy.ext.asyncio import AsyncEngine

log = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"
# pg_advisory_xact_lock key held while migrating: concurrent starters (workers, the migrate job) queue on it.
MIGRATION_LOCK_ID = 0x62696C6C  # "bill"


# Alembic keeps its running context in module globals, and run_sync interleaves on the event loop: one
# migration command per process at a time (other processes queue on the advisory lock instead).
_locks: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = weakref.WeakKeyDictionary()


@asynccontextmanager
async def _connection(engine: AsyncEngine) -> AsyncIterator[Any]:
    lock = _locks.setdefault(asyncio.get_running_loop(), asyncio.Lock())
    async with lock, engine.connect() as conn:
        yield conn
        await conn.commit()


def alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("file_template", "%%(year)d%%(month).2d%%(day).2d_%%(rev)s_%%(slug)s")
    return config


def head_revisions() -> tuple[str, ...]:
    return tuple(ScriptDirectory.from_config(alembic_config()).get_heads())


def has_revisions() -> bool:
    return bool(head_revisions())


def _metadata() -> Any:
    from sqlmodel import SQLModel

    import models.tables  # noqa: F401  (registers every table)

    return SQLModel.metadata


def _run(connection: Connection, fn: Any, *args: Any) -> None:
    config = alembic_config()
    config.attributes["connection"] = connection
    fn(config, *args)


def _upgrade(connection: Connection, revision: str) -> None:
    tables = set(inspect(connection).get_table_names())
    if "alembic_version" not in tables and tables & set(_metadata().tables):
        # A database made by create_all before billflow had migrations (an old `billflow dev` data dir):
        # complete it the same way and adopt it at head instead of failing on "table already exists".
        log.warning("database has billflow tables but no alembic_version: creating missing tables, stamping head")
        _metadata().create_all(connection)
        _run(connection, command.stamp, "head")
        return
    _run(connection, command.upgrade, revision)


async def upgrade(engine: AsyncEngine, revision: str = "head") -> None:
    async with _connection(engine) as conn:
        await conn.run_sync(_upgrade, revision)


async def downgrade(engine: AsyncEngine, revision: str) -> None:
    async with _connection(engine) as conn:
        await conn.run_sync(_run, command.downgrade, revision)


async def current(engine: AsyncEngine) -> str | None:
    """The database's revision (None: never migrated)."""

    def _current(connection: Connection) -> str | None:
        return MigrationContext.configure(connection).get_current_revision()

    async with engine.connect() as conn:
        return await conn.run_sync(_current)


async def drift(engine: AsyncEngine) -> list[Any]:
    """Differences between the models and the database (empty when the migrations match the models)."""

    def _compare(connection: Connection) -> list[Any]:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return list(compare_metadata(context, _metadata()))

    async with engine.connect() as conn:
        return await conn.run_sync(_compare)


async def revision(engine: AsyncEngine, message: str) -> None:
    """Autogenerate a revision file from the difference between the models and this (upgraded) database."""

    def _revision(connection: Connection) -> None:
        config = alembic_config()
        config.attributes["connection"] = connection
        command.revision(config, message=message, autogenerate=True)

    async with _connection(engine) as conn:
        await conn.run_sync(_revision)
