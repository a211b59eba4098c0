"""Alembic environment: billflow's metadata, its Settings for the URL, one advisory lock per upgrade.

Three ways in:
- `Database.create_schema()` / `billflow db ...` pass an open connection in `config.attributes["connection"]`;
- `billflow.migrate` with only a URL sets `sqlalchemy.url`;
- plain `alembic upgrade head` (alembic.ini) falls back to billflow's Settings.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection, create_engine, pool, text
from sqlmodel import SQLModel

import models.tables  # noqa: F401  (registers every table on SQLModel.metadata)
from billflow.migrate import MIGRATION_LOCK_ID

config = context.config
target_metadata = SQLModel.metadata


def _url() -> str:
    url = config.get_main_option("sqlalchemy.url")
    if url:
        return url
    from billflow.config import get_settings
    from billflow.db import resolve_database_url

    return resolve_database_url(get_settings())


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        compare_type=True,
        compare_server_default=False,
        render_as_batch=False,
    )
    with context.begin_transaction():
        # Several workers or migration jobs may start at once: one migrates, the others wait, then find head.
        connection.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": MIGRATION_LOCK_ID})
        context.run_migrations()


def run_migrations_offline() -> None:
    """`alembic upgrade head --sql`: print the SQL instead of running it."""
    context.configure(url=_url(), target_metadata=target_metadata, literal_binds=True, compare_type=True)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    engine = create_engine(_url(), poolclass=pool.NullPool)
    with engine.connect() as conn:
        _run(conn)
        conn.commit()
    engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
