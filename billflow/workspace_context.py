"""The caller's workspace for the rest of the current task (issue 13; docs/workspaces.md, "Row-level security").

Set by the API once a key is verified and by the staff app's sign-in check; read by billflow/db.py, which names
it to PostgreSQL at the start of every transaction, and by the repositories' lookups by number. No imports of
billflow's own: the repositories read it too.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Final, Literal

# The caller's workspace, for the rest of the current task: set by the API once a key is verified. With row
# security on, every transaction starts with `billflow.workspace_id` set to it, and PostgreSQL's policies
# (migration 0a1b2c3d4e41) show that workspace's rows only, even to a query that forgot its filter.
# The PostgreSQL setting that carries the scope (billflow/db.py sets it per transaction, starter/reads.py per
# connection).
WORKSPACE_SETTING: Final = "billflow.workspace_id"
ALL_WORKSPACES: Final = "all"  # the named bypass: the worker, the CLI and edges that verify before they know
WorkspaceScope = int | Literal["all"]
_scope: ContextVar[WorkspaceScope | None] = ContextVar("billflow_workspace_scope", default=None)


def task_scope() -> WorkspaceScope | None:
    """The current task's scope as set: a workspace, ALL_WORKSPACES, or None (never set)."""
    return _scope.get()


def current_workspace() -> int | None:
    """The workspace the current task is narrowed to; None when it is not (or reads every workspace)."""
    scope = _scope.get()
    return scope if isinstance(scope, int) else None


def enter_workspace(scope: WorkspaceScope) -> None:
    """Narrow the rest of the current task (an API request, once its key is verified) to one workspace."""
    _scope.set(scope)


def leave_workspace() -> None:
    """End the narrowing (a request's, once answered: a test's client runs the app in its own task)."""
    _scope.set(None)


@contextmanager
def workspace_scope(scope: WorkspaceScope) -> Iterator[None]:
    """Run a block in one workspace (or, with ALL_WORKSPACES, in all of them)."""
    token = _scope.set(scope)
    try:
        yield
    finally:
        _scope.reset(token)
