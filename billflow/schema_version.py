"""Is a database at the newest migration? Answered without importing Alembic (about 0.6 s of start-up).

The CLI asks this before every command and runs the Alembic upgrade (billflow.migrate) only when the answer is
no, so read-only commands on an up-to-date database start quickly (issue 11, item 15). The heads are read from
the migration files' own `revision` / `down_revision` literals; tests/ops/test_cli_startup.py checks that they
match Alembic's.
"""

from __future__ import annotations

import ast
from functools import lru_cache
from pathlib import Path
from typing import Any

from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

VERSIONS_DIR = Path(__file__).resolve().parent.parent / "migrations" / "versions"


@lru_cache
def head_revisions() -> frozenset[str]:
    revisions: set[str] = set()
    parents: set[str] = set()
    for path in VERSIONS_DIR.glob("*.py"):
        for name, value in _assignments(ast.parse(path.read_text())):
            if name == "revision":
                revisions.add(value)
            elif name == "down_revision":
                parents.update([value] if isinstance(value, str) else (value or ()))
    return frozenset(revisions - parents)


def _assignments(module: ast.Module) -> list[tuple[str, Any]]:
    """Module-level `name = literal` and `name: type = literal` statements."""
    found = []
    for node in module.body:
        if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.value is not None:
            found.append((node.target.id, node.value))
        elif isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            found.append((node.targets[0].id, node.value))
    return [(name, ast.literal_eval(value)) for name, value in found if name in ("revision", "down_revision")]


async def at_head(engine: AsyncEngine) -> bool:
    """True when the database's Alembic version is exactly the migrations' head(s); False otherwise, including
    a database without the version table (a fresh one)."""
    heads = head_revisions()
    if not heads:
        return False
    try:
        async with engine.connect() as conn:
            rows = (await conn.execute(text("SELECT version_num FROM alembic_version"))).scalars().all()
    except DBAPIError:
        return False
    return frozenset(rows) == heads
