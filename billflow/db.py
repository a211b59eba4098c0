"""PostgreSQL through psycopg 3: the configured server, or an embedded one started on demand."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import event, make_url, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, async_sessionmaker, create_async_engine
from sqlmodel import Session
from sqlmodel.ext.asyncio.session import AsyncSession

from billflow import db_url
from billflow.config import Settings
from billflow.db_url import EMBEDDED_DATABASE, embedded_state  # noqa: F401  (re-exported: where they were)
from billflow.workspace_context import (  # noqa: F401  (re-exported: billflow.db is where sessions are scoped)
    ALL_WORKSPACES,
    WORKSPACE_SETTING,
    WorkspaceScope,
    current_workspace,
    enter_workspace,
    leave_workspace,
    task_scope,
    workspace_scope,
)

log = logging.getLogger(__name__)


def to_psycopg_url(url: str) -> str:
    """Accept postgres://, postgresql:// or postgresql+psycopg:// and always drive psycopg 3."""
    parsed = make_url(url)
    return parsed.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)


def start_embedded_postgres(data_dir: Path) -> str:
    """Start (or join) the embedded PostgreSQL server under data_dir; return the URL of billflow's database."""
    return to_psycopg_url(db_url.start_embedded_postgres(data_dir))


def resolve_database_url(settings: Settings) -> str:
    return to_psycopg_url(db_url.database_url(settings))


class _ScopedSession(Session):
    """The sync session under each AsyncSession: every transaction it begins names its workspace scope."""


@event.listens_for(_ScopedSession, "after_begin")
def _set_scope(session: Session, transaction: Any, connection: Any) -> None:
    if not session.info.get("row_security"):
        return
    # set_config(..., true) is SET LOCAL: it ends with the transaction, so a pooled connection keeps nothing.
    # The task's scope is read here, when the transaction starts, not when the session was opened: an API
    # request's session may be opened before its key is verified (SQLAlchemy runs this in the caller's context).
    connection.execute(
        text("SELECT set_config(:name, :value, true)"),
        {"name": WORKSPACE_SETTING, "value": _scope_value(session.info.get("workspace"), session.info.get("unscoped"))},
    )


def _scope_value(workspace: WorkspaceScope | None, unscoped: WorkspaceScope | None) -> str:
    """The setting's value: the given workspace, else the task's scope, else the unscoped default ('' = none)."""
    scope = workspace if workspace is not None else task_scope()
    if scope is None:
        scope = unscoped
    return "" if scope is None else str(scope)


class Database:
    """An async engine and its session factory; one per process.

    row_security: start every transaction by naming its workspace scope (the task's, else `unscoped`), for
    PostgreSQL's row-level security policies; they bind only a role that owns no table (docs/workspaces.md).
    unscoped: the scope of sessions opened outside any workspace: None (no workspace's rows) or ALL_WORKSPACES
    (the worker's and the CLI's named bypass)."""

    def __init__(
        self, url: str, *, pool_size: int = 10, row_security: bool = False, unscoped: WorkspaceScope | None = None
    ) -> None:
        self.url = to_psycopg_url(url)
        self.row_security = row_security
        self.unscoped = unscoped
        # hide_parameters: errors and logs show the SQL, never the values bound to it (tokens, emails, ids).
        self.engine: AsyncEngine = create_async_engine(
            self.url, pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=True, hide_parameters=True
        )
        self._sessions = async_sessionmaker(
            self.engine, class_=AsyncSession, sync_session_class=_ScopedSession, expire_on_commit=False
        )

    @asynccontextmanager
    async def session(self, *, workspace: WorkspaceScope | None = None) -> AsyncIterator[AsyncSession]:
        """A session whose transaction commits on success and rolls back on any error; in `workspace` when
        given, else in the current task's workspace scope."""
        info = {"row_security": self.row_security, "workspace": workspace, "unscoped": self.unscoped}
        async with self._sessions(info=info) as session, session.begin():
            yield session

    @asynccontextmanager
    async def autocommit(self) -> AsyncIterator[AsyncConnection]:
        """A connection on which every statement commits by itself (it holds its row locks only while it runs)."""
        async with self.engine.connect() as conn:
            conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
            if not self.row_security:
                yield conn
                return
            # No transaction to scope: the setting holds for the connection's session, and is reset before the
            # connection goes back to the pool.
            value = _scope_value(None, self.unscoped)
            setting = {"name": WORKSPACE_SETTING, "value": value}
            await conn.execute(text("SELECT set_config(:name, :value, false)"), setting)
            try:
                yield conn
            finally:
                await conn.execute(text(f"RESET {WORKSPACE_SETTING}"))

    async def create_schema(self) -> None:
        """Bring the schema to the newest Alembic migration (the one schema call of worker, CLI and tests).

        Until the first revision exists in migrations/versions, every missing table is created instead."""
        from sqlmodel import SQLModel

        import models.tables  # noqa: F401  (registers the tables on the metadata)
        from billflow import migrate

        if migrate.has_revisions():
            await migrate.upgrade(self.engine)
            return
        async with self.engine.begin() as conn:
            await conn.run_sync(SQLModel.metadata.create_all)

    async def ping(self) -> None:
        async with self.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))

    async def dispose(self) -> None:
        await self.engine.dispose()
