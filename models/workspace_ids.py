"""The installation's first workspace (issue 13), in a module of its own: the CLI's psycopg reads name it without
importing the table helpers (SQLAlchemy) of models/columns.py."""

from __future__ import annotations

from typing import Final

# What existed before workspaces, and where rows written by code that names no workspace yet still land (the
# columns' server default; docs/workspaces.md).
DEFAULT_WORKSPACE_ID: Final = 1
